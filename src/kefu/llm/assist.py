"""LLM assist for agents: draft a reply from the knowledge base, translate between the agent's and customer's language.

Agents review what they send, so output with unsupported numbers or links is returned with `flags` naming the
kind of fact to check instead of being dropped. Without a usable answer the draft falls back to the best
knowledge-base answer and a translation to nothing (the agent still has the original).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.bot import service as bot_service
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.core.access import ensure_brand
from kefu.core.config import Settings
from kefu.core.errors import Conflict, NotFound
from kefu.customers.models import Customer
from kefu.llm import guard, prompts
from kefu.llm.client import LlmError, is_enabled
from kefu.llm.prompts import Masked
from kefu.llm.service import ask, audit, brand_allows, masked, transcript


@dataclass
class AssistResult:
    """What the agent gets back: text to edit, where it came from, facts to double-check."""

    text: str
    source: str  # "llm" | "kb" | "none"
    locale: str
    outcome: str
    flags: list[str] = field(default_factory=list)
    faq_ids: list[int] = field(default_factory=list)


def _require(session: Session, conv: Conversation, settings: Settings) -> None:
    if not is_enabled(settings):
        raise Conflict.said("err_llm_not_configured")
    if not brand_allows(session, conv.brand_id):
        raise Conflict.said("err_llm_off_for_brand")


def customer_locale(session: Session, conv: Conversation) -> str:
    """The customer's language: their latest real question, else their profile, else the brand default."""
    customer = session.get(Customer, conv.customer_id)
    brand = session.get(Brand, conv.brand_id)
    fallback = (customer.locale if customer else None) or (brand.default_locale if brand else "zh-TW")
    last = bot_service.assist_question(session, conv)
    return bot_service.detect_locale(last, fallback) if last else fallback


def _flags(text: str, sources: list[str]) -> list[str]:
    # Only the kinds: the values are what the model wrote and the agent can see them in the text.
    return sorted({f.split(":", 1)[0] for f in guard.unsupported(text, sources)})


def draft_reply(
    session: Session, principal: Principal, conv: Conversation, settings: Settings, instructions: str = ""
) -> AssistResult:
    """A reply draft in the customer's language, grounded in the top knowledge-base answers."""
    _require(session, conv, settings)
    locale = customer_locale(session, conv)
    question = bot_service.assist_question(session, conv)
    suggestions: list[dict[str, Any]] = []
    if question:
        suggestions = bot_service.suggest(session, conv.brand_id, question, locale)
    faq_ids = [int(s["faq_id"]) for s in suggestions]
    # Questions may be customer wording taught from the review queue; answers are brand-authored content.
    knowledge = Masked("\n".join(f"- Q: {masked(str(s['question']))}\n  A: {s['answer']}" for s in suggestions))
    history = transcript(session, conv, limit=20)
    extra = masked(instructions.strip()[:1000])
    result = ask(settings, prompts.draft_reply(locale, knowledge, history, extra))
    details: dict[str, Any] = {"faq_ids": faq_ids, "locale": locale}
    if isinstance(result, LlmError):
        audit(
            session,
            settings,
            "draft_reply",
            result.outcome,
            conv=conv,
            principal=principal,
            result=result,
            details=details,
        )
        fallback = str(suggestions[0]["answer"]) if suggestions else ""
        return AssistResult(fallback, "kb" if fallback else "none", locale, result.outcome, faq_ids=faq_ids)
    text = guard.in_script(guard.clean_output(result.text), locale)
    flags = _flags(text, [knowledge, history, extra])
    audit(
        session,
        settings,
        "draft_reply",
        "ok",
        conv=conv,
        principal=principal,
        result=result,
        details={**details, "flags": flags},
    )
    return AssistResult(text, "llm", locale, "ok", flags=flags, faq_ids=faq_ids)


def translate(
    session: Session,
    principal: Principal,
    conv: Conversation,
    settings: Settings,
    *,
    message_id: int | None = None,
    text: str | None = None,
    target: str | None = None,
) -> AssistResult:
    """A customer message into the agent's language, or an agent's draft into the customer's."""
    _require(session, conv, settings)
    if message_id is not None:
        msg = session.get(Message, message_id)
        home = session.get(Conversation, msg.conversation_id) if msg is not None else None
        # The console timeline spans the customer's conversations on every channel of the brand.
        if msg is None or home is None or msg.is_note or home.customer_id != conv.customer_id:
            raise NotFound.said("err_llm_message_not_found", message_id=message_id)
        ensure_brand(principal, home.brand_id, "Message")
        source = msg.body or ""
        if target is None:
            agent = session.get(Agent, principal.agent_id)
            target = agent.locale if agent else "zh-TW"
    else:
        source = text or ""
        target = target or customer_locale(session, conv)
    sent = masked(source[:5000])
    if not sent.strip():
        return AssistResult("", "none", target, "empty")
    details: dict[str, Any] = {"locale": target, "kind": "message" if message_id is not None else "draft"}
    if message_id is not None:
        details["message_id"] = message_id
    result = ask(settings, prompts.translate(target, sent), max_tokens=1200)
    if isinstance(result, LlmError):
        audit(
            session,
            settings,
            "translate",
            result.outcome,
            conv=conv,
            principal=principal,
            result=result,
            details=details,
        )
        return AssistResult("", "none", target, result.outcome)
    out = guard.in_script(guard.clean_output(result.text), target)
    flags = _flags(out, [sent])
    audit(
        session,
        settings,
        "translate",
        "ok",
        conv=conv,
        principal=principal,
        result=result,
        details={**details, "flags": flags},
    )
    return AssistResult(out, "llm", target, "ok", flags=flags)
