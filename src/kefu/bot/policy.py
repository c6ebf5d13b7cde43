"""Dialogue policy: answer, offer options, small talk or hand off — a pure function of the turn and the bot's memory.

Thresholds come from the brand's index (chosen by cross-validation on its own KB at every refit) unless the brand
overrides them in ``settings["bot"]``. Below the answer threshold the bot offers the top FAQs as options whenever
one is plausible, so a customer never gets a bare "please rephrase" when the KB probably has the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kefu.bot.emotion import Emotion, is_anger_alert
from kefu.bot.engine import Candidate
from kefu.bot.nlu.text import normalize

TICKET_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,8}-\d{6})(?!\d)")
CHOICE_WORDS = {
    1: ("1", "一", "第一", "第一個", "第一个", "第1個", "第1个", "first", "the first", "the first one", "a", "①"),
    2: ("2", "二", "第二", "第二個", "第二个", "第2個", "第2个", "second", "the second", "the second one", "b", "②"),
    3: ("3", "三", "第三", "第三個", "第三个", "第3個", "第3个", "third", "the third", "the third one", "c", "③"),
}
_STRIP = re.compile(r"[\s。.!！?？、,，:：;；「」\"'()（）]+")
DEFAULT_ANSWER_THRESHOLD = 0.5
DEFAULT_CLARIFY_THRESHOLD = 0.2


@dataclass(frozen=True)
class BotSettings:
    """Per-brand knobs (brand.settings["bot"]); None thresholds mean "the KB-calibrated value of the index"."""

    answer_threshold: float | None = None
    clarify_threshold: float | None = None
    max_options: int = 3
    max_failures: int = 2
    anger_threshold: int = 3
    vip_handoff: bool = False
    enabled: bool = True

    @classmethod
    def from_brand(cls, settings: dict[str, Any] | None) -> BotSettings:
        """Read overrides from a brand's settings JSON, ignoring unknown keys."""
        raw = (settings or {}).get("bot") or {}
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Memory:
    """The bot's state carried between turns of one conversation."""

    failures: int = 0
    clarify_options: tuple[int, ...] = ()
    option_labels: tuple[str, ...] = ()  # the text shown for each option (same order)


@dataclass(frozen=True)
class Turn:
    """Everything the policy looks at for one customer message."""

    text: str
    candidates: tuple[Candidate, ...]
    emotion: Emotion
    wants_human: bool
    vip: bool
    memory: Memory
    answer_threshold: float = DEFAULT_ANSWER_THRESHOLD
    clarify_threshold: float = DEFAULT_CLARIFY_THRESHOLD


@dataclass(frozen=True)
class Decision:
    """What the bot does: answer | clarify | smalltalk | handoff | ticket_status | fallback."""

    action: str
    faq_id: int | None = None
    confidence: float | None = None
    options: tuple[int, ...] = ()
    reason: str | None = None
    ticket_number: str | None = None
    failures: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def _compact(text: str) -> str:
    return _STRIP.sub("", normalize(text))


def choice(text: str, labels: tuple[str, ...] = ()) -> int | None:
    """Which offered option a reply picks: its number (1/１/一/第一個/first), or the option's exact text."""
    t = _compact(text)
    if not t:
        return None
    for n, words in CHOICE_WORDS.items():
        if t in {_compact(w) for w in words}:
            return n
    for i, label in enumerate(labels, 1):
        if label and t == _compact(label):
            return i
    return None


def thresholds(
    settings: BotSettings, answer: float | None, clarify: float | None, *, stand_in: bool = False
) -> tuple[float, float]:
    """(answer, clarify) thresholds: the brand's override, else the index's calibrated value, else defaults.

    A stand-in index (provisional, or a small change patched in: served while the full one fits) keeps its own
    unless the brand's are stricter: only its exact and near-exact matches reach its answer threshold, the rest is
    kept below it, so a brand's lower override would answer guesses.
    """
    a = DEFAULT_ANSWER_THRESHOLD if answer is None else float(answer)
    c = DEFAULT_CLARIFY_THRESHOLD if clarify is None else float(clarify)
    if settings.answer_threshold is not None:
        a = max(a, settings.answer_threshold) if stand_in else settings.answer_threshold
    if settings.clarify_threshold is not None:
        c = max(c, settings.clarify_threshold) if stand_in else settings.clarify_threshold
    return a, min(c, a)


def decide(turn: Turn, settings: BotSettings) -> Decision:
    """Apply the policy rules in priority order."""
    mem = turn.memory
    if turn.wants_human:
        return Decision("handoff", reason="requested", failures=mem.failures)
    if is_anger_alert(turn.emotion, settings.anger_threshold):
        return Decision("handoff", reason="anger", failures=mem.failures)
    if turn.vip and settings.vip_handoff:
        return Decision("handoff", reason="vip", failures=mem.failures)
    number = TICKET_NUMBER.search(turn.text)
    if number:
        return Decision("ticket_status", ticket_number=number.group(1).upper(), failures=mem.failures)
    if mem.clarify_options:
        pick = choice(turn.text, mem.option_labels)
        if pick is not None and pick <= len(mem.clarify_options):
            return Decision("answer", faq_id=mem.clarify_options[pick - 1], confidence=1.0, reason="clarified")
        for cand in turn.candidates[:1]:
            if cand.faq is not None and cand.faq.id in mem.clarify_options and cand.score >= turn.clarify_threshold:
                return Decision("answer", faq_id=cand.faq.id, confidence=cand.score, reason="clarified")
    if not _compact(turn.text):
        # Nothing to read (blank, or punctuation only): a nudge to type the question, not a miss counted toward a
        # hand-off nor a review item.
        return Decision("smalltalk", confidence=1.0, reason="testing", failures=mem.failures)
    top = turn.candidates[0] if turn.candidates else None
    # Small talk needs the same confidence as an answer: a real question that merely looks like nothing in the KB
    # ("運費多少", "收不到驗證碼") must reach the fallback (what the bot can do, a human) rather than a canned "hi".
    if top is not None and top.smalltalk is not None and top.score >= turn.answer_threshold:
        return Decision("smalltalk", confidence=top.score, reason=top.smalltalk, failures=mem.failures)
    faqs = [c for c in turn.candidates if c.faq is not None]
    best = faqs[0] if faqs else None
    if best is not None and best is top and best.score >= turn.answer_threshold:
        assert best.faq is not None
        return Decision("answer", faq_id=best.faq.id, confidence=best.score)
    if best is not None and best.score >= turn.clarify_threshold:
        options = tuple(c.faq.id for c in faqs[: max(2, settings.max_options)] if c.faq is not None)
        return Decision("clarify", options=options, confidence=best.score)
    failures = mem.failures + 1
    reason = "out_of_scope" if best is None or best.score < turn.clarify_threshold / 2 else "low_confidence"
    if failures >= settings.max_failures:
        return Decision(
            "handoff",
            reason="unresolved",
            failures=failures,
            confidence=best.score if best else None,
            extras={"review_reason": reason},
        )
    return Decision("fallback", reason=reason, failures=failures, confidence=best.score if best else None)
