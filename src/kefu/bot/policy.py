"""Dialogue policy: answer, ask which one, or hand off — a pure function of the turn and the bot's memory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kefu.bot.emotion import Emotion, is_anger_alert
from kefu.bot.engine import Candidate

TICKET_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,8}-\d{6})(?!\d)")
CHOICE_WORDS = {
    1: ("1", "１", "一", "第一", "第一個", "第一个", "first", "the first", "a"),
    2: ("2", "２", "二", "第二", "第二個", "第二个", "second", "the second", "b"),
    3: ("3", "３", "三", "第三", "第三個", "第三个", "third", "the third", "c"),
}


@dataclass(frozen=True)
class BotSettings:
    """Per-brand knobs (brand.settings["bot"]); thresholds are on the retriever's confidence scale."""

    answer_threshold: float = 0.5
    clarify_threshold: float = 0.25
    margin: float = 0.15
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


@dataclass(frozen=True)
class Turn:
    """Everything the policy looks at for one customer message."""

    text: str
    candidates: tuple[Candidate, ...]
    emotion: Emotion
    wants_human: bool
    vip: bool
    memory: Memory


@dataclass(frozen=True)
class Decision:
    """What the bot does: answer | clarify | handoff | ticket_status | fallback."""

    action: str
    faq_id: int | None = None
    confidence: float | None = None
    options: tuple[int, ...] = ()
    reason: str | None = None
    ticket_number: str | None = None
    failures: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def _choice(text: str) -> int | None:
    t = text.strip().lower().rstrip("。.!！?？ ")
    for n, words in CHOICE_WORDS.items():
        if t in words:
            return n
    return None


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
        pick = _choice(turn.text)
        if pick is not None and pick <= len(mem.clarify_options):
            return Decision("answer", faq_id=mem.clarify_options[pick - 1], confidence=1.0, reason="clarified")
        for cand in turn.candidates[:1]:
            if cand.faq.id in mem.clarify_options and cand.score >= settings.clarify_threshold:
                return Decision("answer", faq_id=cand.faq.id, confidence=cand.score, reason="clarified")
    cands = _distinct_intents(turn.candidates)
    top = cands[0] if cands else None
    second = cands[1] if len(cands) > 1 else None
    if (
        top is not None
        and top.score >= settings.answer_threshold
        and (second is None or top.score - second.score >= settings.margin)
    ):
        return Decision("answer", faq_id=top.faq.id, confidence=top.score)
    if top is not None and second is not None and second.score >= settings.clarify_threshold:
        close = [
            c for c in cands[:3] if c.score >= settings.clarify_threshold and top.score - c.score < settings.margin
        ]
        if len(close) >= 2:
            return Decision("clarify", options=tuple(c.faq.id for c in close), confidence=top.score)
    failures = mem.failures + 1
    reason = "out_of_scope" if top is None or top.score < settings.clarify_threshold else "low_confidence"
    if failures >= settings.max_failures:
        return Decision(
            "handoff",
            reason="unresolved",
            failures=failures,
            confidence=top.score if top else None,
            extras={"review_reason": reason},
        )
    return Decision("fallback", reason=reason, failures=failures, confidence=top.score if top else None)


def _distinct_intents(cands: tuple[Candidate, ...]) -> list[Candidate]:
    """One candidate per intent: the same FAQ in three locales must not look like a close call."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for c in sorted(cands, key=lambda c: -c.score):
        key = c.faq.intent or f"faq:{c.faq.id}"
        if key in seen:
            continue
        seen.add(key)
        out.append(c)
    return out
