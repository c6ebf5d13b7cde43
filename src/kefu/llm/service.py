"""LLM assist for the bot: phrase a matched FAQ answer and write the hand-off summary, or return None to fall back.

The one place that decides how a call is made: text leaves only through `ask` (personal data masked with
`mask_for_external` through `masked()`), every call is audited and logged without content, and any
failure (off, timeout, HTTP error, blocked address, ungrounded output) means "use the non-LLM path".
"""

from __future__ import annotations

import logging
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

    Refuses (no call) without a matched FAQ; rejects output that adds numbers or links the FAQ lacks.
    """
    settings = settings or get_settings()
    if not is_enabled(settings) or faq_id is None or not faq_answer.strip():
        return None
    if not brand_allows(session, conv.brand_id):
        return None
    if not faq_question:
        faq = session.get(FaqEntry, faq_id)
        faq_question = str(faq.questions[0]) if faq is not None and faq.questions else ""
    details: dict[str, Any] = {"faq_id": faq_id, "locale": locale}
    messages = prompts.phrase_answer(locale, masked(faq_question), faq_answer, masked(customer_text[:2000]))
    result = ask(settings, messages)
    if isinstance(result, LlmError):
        audit(
            session,
            settings,
            "phrase_answer",
            result.outcome,
            conv=conv,
            principal=None,
            result=result,
            details=details,
        )
        return None
    text = guard.in_script(guard.clean_output(result.text), locale)
    outcome, extra = _phrase_verdict(text, faq_answer)
    audit(
        session,
        settings,
        "phrase_answer",
        outcome,
        conv=conv,
        principal=None,
        result=result,
        details={**details, **extra},
    )
    return text if outcome == "ok" else None


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


def handoff_summary(
    session: Session, conv: Conversation, locale: str, *, settings: Settings | None = None
) -> str | None:
    """A short summary for the agent taking over, or None (use the extractive summary)."""
    settings = settings or get_settings()
    if not available(session, conv.brand_id, settings):
        return None
    source = transcript(session, conv)
    if not source:
        return None
    details: dict[str, Any] = {"locale": locale}
    messages = prompts.handoff_summary(locale, source)
    result = ask(settings, messages)
    if isinstance(result, LlmError):
        audit(
            session,
            settings,
            "handoff_summary",
            result.outcome,
            conv=conv,
            principal=None,
            result=result,
            details=details,
        )
        return None
    text = guard.in_script(guard.clean_output(result.text), locale)
    reason = None
    if not text:
        reason = "empty"
    elif len(text) > 800:
        reason = "too_long"
    elif guard.unsupported(text, [source]):
        reason = "ungrounded"
    if reason:
        details["reason"] = reason
    outcome = "rejected" if reason else "ok"
    audit(session, settings, "handoff_summary", outcome, conv=conv, principal=None, result=result, details=details)
    return None if reason else text
