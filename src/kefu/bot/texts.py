"""What the bot says, written per locale as its customers write them (zh-TW, zh-CN, en) — never machine-converted."""

from __future__ import annotations

import re
from datetime import datetime

from kefu.core import catalog
from kefu.core.l10n import format_datetime

# The texts are the bot_* entries of the gettext catalogs (src/kefu/locale). Taiwanese customers read 真人客服 /
# 案件編號 (as on the widget and the board) / 身分 / 登入 and quote with 「」; mainland customers read 人工客服 /
# 工单编号 / 身份 / 登录 and quote with “”.
PREFIX = "bot_"
LOCALES = ("zh-TW", "zh-CN", "en")
# Between two sentences: Chinese needs nothing after a full-width stop, English needs a space.
_JOIN = {"zh-TW": "", "zh-CN": "", "en": " "}
# Quotation marks and list separators as each locale writes them.
_QUOTE = {"zh-TW": ("「", "」"), "zh-CN": ("“", "”"), "en": ('"', '"')}
_LIST_SEP = {"zh-TW": "、", "zh-CN": "、", "en": ", "}


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else "zh-TW"


def keys() -> frozenset[str]:
    """Every bot string key (without the catalog prefix)."""
    return frozenset(k.removeprefix(PREFIX) for k in catalog.table("en") if k.startswith(PREFIX))


def _has(key: str) -> bool:
    return PREFIX + key in catalog.table("en")


def t(locale: str, key: str) -> str:
    """A bot string in the given locale (zh-TW when unknown); an unknown key is a KeyError, as before."""
    text = catalog.table(_locale(locale)).get(PREFIX + key)
    if text is None:
        raise KeyError(key)
    return text


def sentences(locale: str, *parts: str) -> str:
    """Sentences joined as the locale writes them (a space after an English full stop, none in Chinese)."""
    return _JOIN[_locale(locale)].join(p for p in parts if p)


def listing(locale: str, items: list[str]) -> str:
    """A short list as a sentence writes it: 甲、乙、丙 / a, b and c."""
    items = [i for i in items if i]
    if _locale(locale) != "en" or len(items) < 2:
        return _LIST_SEP[_locale(locale)].join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def quoted(locale: str, text: str) -> str:
    """Text in the locale's quotation marks."""
    left, right = _QUOTE[_locale(locale)]
    return f"{left}{text}{right}"


_SLUG = re.compile(r"^[a-z0-9]+(?:[_\-.][a-z0-9]+)*$")


def is_slug(text: str) -> bool:
    """True for an internal key ("account_anomaly", "refund") that must never be shown to a customer."""
    return bool(_SLUG.match(text.strip()))


def fallback(locale: str, topics: list[str], questions: list[str] | None = None) -> str:
    """What the bot can do — the brand's main topics by name, else a few of its FAQ questions — and how to reach a
    person or leave a ticket. Callers pass display names (never category keys) in the customer's locale."""
    topics = [x for x in topics if x][:3]
    middle = ""
    if topics:
        middle = t(locale, "fallback_topics").format(topics=listing(locale, topics))
    elif questions:
        shown = [quoted(locale, option_label(q, 30)) for q in questions[:2] if q]
        sep = " or " if _locale(locale) == "en" else "、"
        middle = t(locale, "fallback_questions").format(questions=sep.join(shown)) if shown else ""
    return sentences(locale, t(locale, "fallback_head"), middle, t(locale, "fallback_tail"))


def smalltalk(locale: str, kind: str) -> str:
    """The short polite reply to a greeting, thanks, goodbye, "are you a robot", a test or chit-chat."""
    key = f"smalltalk_{kind}"
    return t(locale, key) if _has(key) else t(locale, "smalltalk_chitchat")


def option_label(question: str, limit: int = 20) -> str:
    """A question shortened for a quick-reply button (LINE allows 20 characters)."""
    q = " ".join(question.split())
    return q if len(q) <= limit else q[: limit - 1] + "…"


def quick_replies(locale: str, questions: list[str], *, human: bool = False) -> list[dict[str, str]]:
    """Buttons for channels that have them: one per option, plus "talk to an agent".

    A button shows the question cut to 20 characters and sends the whole question, so the transcript reads as the
    customer's own words (the policy accepts an option's text as well as its number).
    """
    out = [{"label": option_label(q), "text": " ".join(q.split())[:300]} for q in questions]
    if human:
        out.append({"label": t(locale, "qr_human"), "text": t(locale, "qr_human_text")})
    return out


def clarify(locale: str, questions: list[str]) -> str:
    """Numbered 'did you mean' list."""
    lines = (
        [t(locale, "clarify_head")] + [f"{i}. {q}" for i, q in enumerate(questions, 1)] + [t(locale, "clarify_tail")]
    )
    return "\n".join(lines)


def handoff(locale: str, reason: str, number: str) -> str:
    """Handoff message with the ticket number."""
    key = f"handoff_{reason}" if _has(f"handoff_{reason}") else "handoff_requested"
    return sentences(locale, t(locale, key), t(locale, "handoff_ticket").format(number=number))


def ticket_status(locale: str, number: str, status: str, updated: datetime, tz: str | None = None) -> str:
    """Customer-facing ticket progress (the update time in the brand's zone, written per locale)."""
    key = f"st_{status}"
    return t(locale, "ticket_status").format(
        number=number,
        status=t(locale, key) if _has(key) else status,
        updated=format_datetime(updated, locale, tz),
    )


def mood_label(locale: str, label: str) -> str:
    """An emotion label (kefu.bot.emotion.LABELS) in the reader's language."""
    key = f"mood_{label}"
    return t(locale, key) if _has(key) else label


def summary(
    locale: str, *, first: str, last: str, intent: str, mood: str, anger: int, bot_turns: int, failures: int
) -> str:
    """Handoff summary line for agents (``mood`` is an emotion label; it is shown in the reader's language)."""
    last_part = t(locale, "summary_last").format(last=last) if last else ""
    return t(locale, "summary").format(
        first=first,
        last=last_part,
        intent=intent,
        mood=mood_label(locale, mood),
        anger=anger,
        bot_turns=bot_turns,
        failures=failures,
    )
