"""LLM assist for the bot: phrase a matched FAQ answer and write the hand-off summary, or return None to fall back.

The one place that decides how a call is made: text leaves only through `ask` (personal data masked with
`mask_for_external` through `masked()`), every call is audited and logged without content, and any
failure (off, timeout, HTTP error, blocked address, ungrounded output) means "use the non-LLM path".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.core.config import Settings, get_settings
from kefu.knowledge.models import FaqEntry
from kefu.llm import guard, prompts
from kefu.llm.client import Completion, LlmError, chat, is_enabled
from kefu.llm.prompts import Masked
from kefu.privacy.masking import mask_for_external

log = logging.getLogger("kefu.llm")

MAX_MESSAGE_CHARS = 500
MAX_TRANSCRIPT_CHARS = 6000


def enabled(settings: Settings | None = None) -> bool:
    """True when an LLM endpoint is configured (off by default)."""
    return is_enabled(settings or get_settings())


def brand_allows(session: Session, brand_id: int) -> bool:
    """A brand may opt out with settings {"llm": {"enabled": false}} (e.g. regulated products)."""
    brand = session.get(Brand, brand_id)  # already in the session on the bot path
    conf = (brand.settings or {}).get("llm") if brand is not None else None
    return not (isinstance(conf, dict) and conf.get("enabled") is False)


def available(session: Session, brand_id: int, settings: Settings | None = None) -> bool:
    """LLM assist is configured and the brand has not opted out."""
    return is_enabled(settings or get_settings()) and brand_allows(session, brand_id)


def masked(text: str) -> Masked:
    """Text as it may leave the install: every detected personal-data span masked."""
    return Masked(mask_for_external(text))


def ask(settings: Settings, messages: list[dict[str, str]], max_tokens: int = 600) -> Completion | LlmError:
    """One bounded call; the failure is returned (not raised) so every caller audits exactly once."""
    try:
        return chat(settings, messages, max_tokens=max_tokens)
    except LlmError as exc:
        return exc


def audit(
    session: Session,
    settings: Settings,
    purpose: str,
    outcome: str,
    *,
    conv: Conversation,
    principal: Principal | None,
    result: Completion | LlmError,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit entry and log line for one LLM call: purpose, outcome, model, latency; never the text."""
    info: dict[str, Any] = {"purpose": purpose, "outcome": outcome, "model": settings.llm_model, **(details or {})}
    if isinstance(result, LlmError):
        info["error"] = result.detail[:200]
    else:
        completion = result
        info.update(
            latency_ms=completion.latency_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
    record(
        session,
        principal,
        f"llm.{purpose}",
        target_type="conversation",
        target_id=conv.id,
        brand_id=conv.brand_id,
        details=info,
        actor_type=None if principal else "bot",
        actor_label=None if principal else "bot",
    )
    log.info("llm %s conversation=%s outcome=%s details=%s", purpose, conv.id, outcome, info)


def _phrase_verdict(text: str, faq_answer: str) -> tuple[str, dict[str, Any]]:
    if not text or prompts.NO_ANSWER in text:
        return "refused", {}
    if len(text) > 3 * len(faq_answer) + 200:
        return "rejected", {"reason": "too_long", "chars": len(text)}
    bad = guard.unsupported(text, [faq_answer])
    if bad:
        # Kinds only ("number", "link"): the values themselves could be anything the model made up.
        return "rejected", {"reason": "ungrounded", "kinds": sorted({b.split(":", 1)[0] for b in bad})}
    return "ok", {}


def transcript(session: Session, conv: Conversation, limit: int = 30) -> Masked:
    """The latest messages (no internal notes), oldest first, personal data masked."""
    rows = list(
        session.execute(
            select(Message.sender_type, Message.body)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )[::-1]
    lines = [f"{sender}: {masked((body or '')[:MAX_MESSAGE_CHARS])}" for sender, body in rows]
    return Masked("\n".join(lines)[-MAX_TRANSCRIPT_CHARS:])  # lines were masked one by one


@dataclass(frozen=True)
class Call:
    """One LLM call prepared in a read-only step: the masked prompt and what the reply is checked against."""

    purpose: str  # "phrase_answer" | "handoff_summary"
    conversation_id: int
    brand_id: int
    locale: str
    messages: list[dict[str, str]]
    grounding: str  # the FAQ answer, or the (masked) transcript a summary may draw on
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answered:
    """A call and what the endpoint returned (or why it did not): made with no database session open."""

    call: Call
    result: Completion | LlmError


def plan_phrase(
    session: Session,
    conv: Conversation,
    customer_text: str,
    faq_id: int | None,
    faq_answer: str,
    locale: str,
    *,
    faq_question: str = "",
    settings: Settings | None = None,
) -> Call | None:
    """The call that rephrases a matched FAQ answer for this customer, or None (no call: off, opted out, no FAQ)."""
    settings = settings or get_settings()
    if not is_enabled(settings) or faq_id is None or not faq_answer.strip():
        return None
    if not brand_allows(session, conv.brand_id):
        return None
    if not faq_question:
        faq = session.get(FaqEntry, faq_id)
        faq_question = str(faq.questions[0]) if faq is not None and faq.questions else ""
    messages = prompts.phrase_answer(locale, masked(faq_question), faq_answer, masked(customer_text[:2000]))
    return Call(
        "phrase_answer", conv.id, conv.brand_id, locale, messages, faq_answer, {"faq_id": faq_id, "locale": locale}
    )


def plan_summary(session: Session, conv: Conversation, locale: str, *, settings: Settings | None = None) -> Call | None:
    """The call that summarizes the conversation for the agent taking over, or None (no call)."""
    settings = settings or get_settings()
    if not available(session, conv.brand_id, settings):
        return None
    source = transcript(session, conv)
    if not source:
        return None
    return Call(
        "handoff_summary",
        conv.id,
        conv.brand_id,
        locale,
        prompts.handoff_summary(locale, source),
        source,
        {"locale": locale},
    )


def run(call: Call, settings: Settings | None = None) -> Answered:
    """Make the call (bounded by KEFU_LLM_TIMEOUT). Needs no session: callers hold no transaction meanwhile."""
    return Answered(call, ask(settings or get_settings(), call.messages))


def _verdict(call: Call, text: str) -> tuple[str, dict[str, Any]]:
    if call.purpose == "phrase_answer":
        return _phrase_verdict(text, call.grounding)
    reason = None
    if not text:
        reason = "empty"
    elif len(text) > 800:
        reason = "too_long"
    elif guard.unsupported(text, [call.grounding]):
        reason = "ungrounded"
    return ("rejected", {"reason": reason}) if reason else ("ok", {})


def settle(
    session: Session,
    conv: Conversation,
    answered: Answered,
    *,
    used: bool = True,
    settings: Settings | None = None,
) -> str | None:
    """Audit a finished call once and return its checked text, or None (use the non-LLM path).

    ``used=False``: the turn went another way after the call was made (e.g. the conversation changed meanwhile);
    the call is audited as "discarded" and its text dropped.
    """
    settings = settings or get_settings()
    call, result = answered.call, answered.result
    if isinstance(result, LlmError):
        audit(
            session,
            settings,
            call.purpose,
            result.outcome,
            conv=conv,
            principal=None,
            result=result,
            details=call.details,
        )
        return None
    text = guard.in_script(guard.clean_output(result.text), call.locale)
    outcome, extra = _verdict(call, text)
    if not used:
        outcome, extra = "discarded", {}
    audit(
        session,
        settings,
        call.purpose,
        outcome,
        conv=conv,
        principal=None,
        result=result,
        details={**call.details, **extra},
    )
    return text if outcome == "ok" else None


def phrase_answer(
    session: Session,
    conv: Conversation,
    customer_text: str,
    faq_id: int | None,
    faq_answer: str,
    locale: str,
    *,
    faq_question: str = "",
    settings: Settings | None = None,
) -> str | None:
    """The FAQ answer rephrased for this customer message, or None (use the FAQ answer verbatim).

    Plan, call and settle in one go — for callers with no write transaction open (the bot plans before its write
    transaction instead). Refuses (no call) without a matched FAQ; rejects output that adds numbers or links.
    """
    settings = settings or get_settings()
    call = plan_phrase(
        session, conv, customer_text, faq_id, faq_answer, locale, faq_question=faq_question, settings=settings
    )
    return settle(session, conv, run(call, settings), settings=settings) if call is not None else None


def handoff_summary(
    session: Session, conv: Conversation, locale: str, *, settings: Settings | None = None
) -> str | None:
    """A short summary for the agent taking over, or None (use the extractive summary); see ``phrase_answer``."""
    settings = settings or get_settings()
    call = plan_summary(session, conv, locale, settings=settings)
    return settle(session, conv, run(call, settings), settings=settings) if call is not None else None
