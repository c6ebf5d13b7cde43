"""The bot at work: answers from the knowledge base, clarifies, hands off with context, learns from misses."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.bot import texts
from kefu.bot.classifier import category_keys
from kefu.bot.emotion import Emotion, analyze, is_anger_alert, wants_human
from kefu.bot.engine import Candidate, FaqDoc, IndexRegistry, get_registry
from kefu.bot.models import BotFeedback, BotReviewItem, BotState
from kefu.bot.policy import BotSettings, Decision, Memory, Turn, decide
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import add_message
from kefu.core.chinese import convert
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.customers.claims import verified_owner
from kefu.customers.models import Customer
from kefu.knowledge.models import FaqEntry
from kefu.knowledge.service import get_faq, update_faq
from kefu.llm import service as llm
from kefu.tickets.models import Ticket
from kefu.tickets.service import create_ticket, update_ticket

LANG_TO_LOCALE = {"zh-Hant": "zh-TW", "zh-Hans": "zh-CN", "en": "en"}


def detect_locale(text: str, fallback: str) -> str:
    """zh-TW / zh-CN / en for a customer message (fallback when undecidable)."""
    from kefu.bot.nlu.text import detect_language

    # Short Chinese without script-specific characters (你好) follows the customer's known script.
    ambiguous = "zh-Hans" if fallback == "zh-CN" else "zh-Hant"
    return LANG_TO_LOCALE.get(detect_language(text, ambiguous_zh=ambiguous), fallback)


def localize_answer(session: Session, doc: FaqDoc, locale: str) -> tuple[int, str]:
    """The answer in the customer's locale: a sibling FAQ of the same intent, else a script conversion."""
    if doc.locale == locale:
        return doc.id, doc.answer
    if doc.intent:
        sibling = session.scalar(
            select(FaqEntry).where(
                FaqEntry.intent == doc.intent, FaqEntry.locale == locale, FaqEntry.is_published.is_(True)
            )
        )
        if sibling is not None:
            return sibling.id, sibling.answer
    if doc.locale == "zh-TW" and locale == "zh-CN":
        return doc.id, convert(doc.answer, "tw2sp")
    if doc.locale == "zh-CN" and locale == "zh-TW":
        return doc.id, convert(doc.answer, "s2twp")
    return doc.id, doc.answer


def _question_in(session: Session, doc: FaqDoc, locale: str) -> str:
    if doc.locale != locale and doc.intent:
        sibling = session.scalar(select(FaqEntry).where(FaqEntry.intent == doc.intent, FaqEntry.locale == locale))
        if sibling is not None and sibling.questions:
            return str(sibling.questions[0])
    return doc.questions[0] if doc.questions else ""


def _state(session: Session, conversation_id: int) -> BotState:
    state = session.get(BotState, conversation_id)
    if state is None:
        state = BotState(conversation_id=conversation_id, failures=0, clarify_options=[], max_anger=0)
        session.add(state)
        session.flush()
    return state


def emotion_meta(e: Emotion) -> dict[str, Any]:
    """Serializable emotion for message.meta."""
    return {"label": e.label, "anger": e.anger, "sentiment": round(e.sentiment, 3), "cues": list(e.cues)}


def summarize(session: Session, conv: Conversation, locale: str, limit: int = 30) -> str:
    """A short extractive summary for the agent taking over."""
    msgs = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )[::-1]
    customer_msgs = [m for m in msgs if m.sender_type == "customer"]
    state = session.get(BotState, conv.id)
    first = customer_msgs[0].body if customer_msgs else ""
    last = customer_msgs[-1].body if customer_msgs else ""
    anger = max((int((m.meta or {}).get("emotion", {}).get("anger", 0)) for m in customer_msgs), default=0)
    labels = [str((m.meta or {}).get("emotion", {}).get("label", "")) for m in customer_msgs]
    mood = next((lab for lab in reversed(labels) if lab), "neutral")
    return texts.summary(
        locale,
        first=first[:120],
        last=last[:120] if last != first else "",
        intent=(state.last_intent if state else None) or "—",
        mood=mood,
        anger=anger,
        bot_turns=sum(1 for m in msgs if m.sender_type == "bot"),
        failures=state.failures if state else 0,
    )


def transcript(session: Session, conv: Conversation, limit: int = 50) -> str:
    """Plain-text transcript of the conversation for the ticket."""
    msgs = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )[::-1]
    return "\n".join(f"[{m.created_at:%Y-%m-%d %H:%M}] {m.sender_type}: {m.body}" for m in msgs)


def handoff(
    session: Session, conv: Conversation, *, reason: str, locale: str, emotion: Emotion | None = None
) -> Ticket:
    """Give the conversation to humans: create or update its ticket with transcript, intent, emotion and summary."""
    state = _state(session, conv.id)
    customer = session.get(Customer, conv.customer_id)
    urgent = reason == "anger" or (emotion is not None and is_anger_alert(emotion))
    vip = bool(customer and customer.vip)
    priority = "urgent" if urgent else ("high" if vip else "normal")
    summary = llm.handoff_summary(session, conv, locale) or summarize(session, conv, locale)
    bot_info = {
        "reason": reason,
        "intent": state.last_intent,
        "confidence": state.last_confidence,
        "emotion": emotion_meta(emotion) if emotion else None,
        "summary": summary,
    }
    if conv.ticket_id is not None:
        ticket = session.get(Ticket, conv.ticket_id)
        assert ticket is not None
        changes: dict[str, Any] = {"custom_fields": {**(ticket.custom_fields or {}), "bot": bot_info}}
        if ("normal", "low").__contains__(ticket.priority) and priority != "normal":
            changes["priority"] = priority
        if ticket.status in ("resolved", "closed"):
            changes["status"] = "open"
        update_ticket(session, ticket, None, changes)
    else:
        first = session.scalar(
            select(Message.body)
            .where(Message.conversation_id == conv.id, Message.sender_type == "customer")
            .order_by(Message.id)
            .limit(1)
        )
        category = None
        if state.last_intent:
            category = session.scalar(select(FaqEntry.category).where(FaqEntry.intent == state.last_intent).limit(1))
        if category not in category_keys(session, conv.brand_id):
            category = None  # KB topics are not always ticket categories; the ticket classifier decides then
        ticket = create_ticket(
            session,
            brand_id=conv.brand_id,
            subject=(first or texts.t(locale, "handoff_subject"))[:200],
            actor=None,
            description=f"{summary}\n\n{transcript(session, conv)}",
            customer_id=conv.customer_id,
            priority=priority,
            category=category,
            channel=conv.channel,
            conversation_id=conv.id,
            tags=["bot-handoff", reason] + (["vip"] if vip else []),
            custom_fields={"bot": bot_info},
        )
    add_message(session, conv, sender_type="system", body=summary, is_note=True, meta={"kind": "handoff_summary"})
    conv.status = "open"
    state.handed_off_at = utcnow()
    state.handoff_reason = reason
    state.clarify_options = []
    session.flush()
    record(
        session,
        None,
        "bot.handoff",
        target_type="conversation",
        target_id=conv.id,
        brand_id=conv.brand_id,
        details={"reason": reason, "ticket_id": ticket.id},
        actor_type="bot",
        actor_label="bot",
    )
    publish(
        session,
        "bot.handoff",
        {"conversation_id": conv.id, "ticket_id": ticket.id, "reason": reason},
        (f"brand:{conv.brand_id}", f"conversation:{conv.id}", f"ticket:{ticket.id}"),
    )
    return ticket


def _review(
    session: Session, conv: Conversation, msg: Message, reason: str, locale: str, cands: tuple[Candidate, ...]
) -> None:
    session.add(
        BotReviewItem(
            brand_id=conv.brand_id,
            conversation_id=conv.id,
            message_id=msg.id,
            text=msg.body[:2000],
            locale=locale,
            reason=reason,
            confidence=cands[0].score if cands else None,
            candidates=[
                {"faq_id": c.faq.id, "score": round(c.score, 4), "question": c.matched_question} for c in cands[:3]
            ],
        )
    )
    session.flush()


def _anger_alert(session: Session, conv: Conversation, msg: Message, e: Emotion, threshold: int) -> None:
    if not is_anger_alert(e, threshold):
        return
    publish(
        session,
        "alert.anger",
        {"conversation_id": conv.id, "message_id": msg.id, "anger": e.anger, "label": e.label, "cues": list(e.cues)},
        (f"brand:{conv.brand_id}", f"conversation:{conv.id}"),
    )
    if conv.ticket_id is not None:
        ticket = session.get(Ticket, conv.ticket_id)
        if ticket is not None and ticket.priority != "urgent" and ticket.status not in ("closed",):
            update_ticket(session, ticket, None, {"priority": "urgent"})


def handle_customer_message(
    session: Session, conversation_id: int, message_id: int, registry: IndexRegistry | None = None
) -> Decision | None:
    """React to one inbound customer message (idempotent per message: a replay changes nothing)."""
    conv = session.get(Conversation, conversation_id)
    msg = session.get(Message, message_id)
    if conv is None or msg is None or msg.conversation_id != conv.id or msg.sender_type != "customer":
        return None
    if (msg.meta or {}).get("bot_handled"):
        return None
    brand = session.get(Brand, conv.brand_id)
    customer = session.get(Customer, conv.customer_id)
    assert brand is not None and customer is not None
    settings = BotSettings.from_brand(brand.settings)
    emotion = analyze(msg.body)
    state = _state(session, conv.id)
    state.max_anger = max(state.max_anger, emotion.anger)
    msg.meta = {**(msg.meta or {}), "emotion": emotion_meta(emotion), "bot_handled": True}
    _anger_alert(session, conv, msg, emotion, settings.anger_threshold)
    if conv.status != "bot" or not settings.enabled:
        session.flush()
        return None
    locale = detect_locale(msg.body, customer.locale or brand.default_locale)
    index = (registry or get_registry()).get(session, brand.id)
    cands = tuple(index.search(msg.body, 5))
    turn = Turn(
        text=msg.body,
        candidates=cands,
        emotion=emotion,
        wants_human=wants_human(msg.body),
        vip=customer.vip,
        memory=Memory(failures=state.failures, clarify_options=tuple(int(x) for x in state.clarify_options)),
    )
    decision = decide(turn, settings)
    msg.meta = {
        **msg.meta,
        "bot": {"action": decision.action, "confidence": decision.confidence, "reason": decision.reason},
    }
    if cands:
        state.last_confidence = cands[0].score
        if cands[0].score >= settings.clarify_threshold:  # a weak guess must not overwrite a known intent
            state.last_intent = cands[0].faq.intent or state.last_intent
    _apply(session, conv, msg, decision, locale, cands, index.docs, emotion)
    session.flush()
    return decision


def _apply(
    session: Session,
    conv: Conversation,
    msg: Message,
    d: Decision,
    locale: str,
    cands: tuple[Candidate, ...],
    docs: dict[int, FaqDoc],
    emotion: Emotion,
) -> None:
    state = _state(session, conv.id)
    if d.action == "answer" and d.faq_id is not None:
        doc = docs.get(d.faq_id)
        if doc is None:  # index swapped between turns
            faq = session.get(FaqEntry, d.faq_id)
            if faq is None:
                return
            doc = FaqDoc(faq.id, faq.locale, tuple(faq.questions), faq.answer, faq.intent, faq.category)
        faq_id, answer = localize_answer(session, doc, locale)
        phrased = llm.phrase_answer(session, conv, msg.body, faq_id, answer, locale)  # None: the FAQ verbatim
        state.failures = 0
        state.clarify_options = []
        state.last_intent = doc.intent or state.last_intent
        add_message(
            session,
            conv,
            sender_type="bot",
            body=phrased or answer,
            meta={"faq_id": faq_id, "confidence": d.confidence, "intent": doc.intent, "ask_feedback": True}
            | ({"llm": True} if phrased else {}),
        )
    elif d.action == "clarify":
        questions = [_question_in(session, docs[i], locale) for i in d.options if i in docs]
        state.clarify_options = list(d.options)
        add_message(
            session, conv, sender_type="bot", body=texts.clarify(locale, questions), meta={"clarify": list(d.options)}
        )
    elif d.action == "fallback":
        state.failures = d.failures
        state.clarify_options = []
        _review(session, conv, msg, d.reason or "low_confidence", locale, cands)
        add_message(session, conv, sender_type="bot", body=texts.t(locale, "fallback"), meta={"fallback": True})
    elif d.action == "ticket_status" and d.ticket_number:
        add_message(
            session,
            conv,
            sender_type="bot",
            body=ticket_status_text(session, conv, d.ticket_number, locale),
            meta={"ticket_query": d.ticket_number},
        )
    elif d.action == "handoff":
        state.failures = d.failures
        if d.reason == "unresolved":
            _review(session, conv, msg, str(d.extras.get("review_reason", "low_confidence")), locale, cands)
        ticket = handoff(session, conv, reason=d.reason or "requested", locale=locale, emotion=emotion)
        add_message(
            session,
            conv,
            sender_type="bot",
            body=texts.handoff(locale, d.reason or "", ticket.number),
            meta={"handoff": d.reason, "ticket_id": ticket.id},
        )


def ticket_status_text(session: Session, conv: Conversation, number: str, locale: str) -> str:
    """Progress of a ticket, told only to the customer who owns it (others are sent to the verified portal)."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number, Ticket.brand_id == conv.brand_id))
    if ticket is None or not verified_owner(session, conv, ticket.customer_id):  # unverified claims learn nothing
        return texts.t(locale, "ticket_unknown").format(number=number)
    return texts.ticket_status(locale, ticket.number, ticket.status, ticket.updated_at)


# ---------------------------------------------------------------- learning loop and agent assist


def record_feedback(session: Session, message_id: int, helpful: bool) -> BotFeedback:
    """Store a "was this helpful?" vote; an unhelpful answer goes to the review queue."""
    msg = session.get(Message, message_id)
    if msg is None or msg.sender_type != "bot" or not (msg.meta or {}).get("faq_id"):
        raise NotFound("No bot answer with that id.")
    existing = session.scalar(select(BotFeedback).where(BotFeedback.message_id == message_id))
    if existing is not None:
        existing.helpful = helpful
        session.flush()
        return existing
    fb = BotFeedback(brand_id=msg.brand_id, message_id=msg.id, faq_id=int(msg.meta["faq_id"]), helpful=helpful)
    session.add(fb)
    if not helpful:
        question = session.scalar(
            select(Message)
            .where(
                Message.conversation_id == msg.conversation_id, Message.sender_type == "customer", Message.id < msg.id
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        if question is not None:
            session.add(
                BotReviewItem(
                    brand_id=msg.brand_id,
                    conversation_id=msg.conversation_id,
                    message_id=question.id,
                    text=question.body[:2000],
                    locale=None,
                    reason="unhelpful",
                    confidence=msg.meta.get("confidence"),
                    candidates=[{"faq_id": int(msg.meta["faq_id"]), "score": msg.meta.get("confidence")}],
                )
            )
    session.flush()
    return fb


def list_review(
    session: Session, principal: Principal, *, brand_id: int, status: str, limit: int, cursor: str | None
) -> tuple[list[BotReviewItem], str | None]:
    """Review queue of a brand, newest first."""
    from kefu.core.access import ensure_brand
    from kefu.core.pagination import keyset_page

    ensure_brand(principal, brand_id, "Brand")
    stmt = select(BotReviewItem).where(BotReviewItem.brand_id == brand_id, BotReviewItem.status == status)
    return keyset_page(session, stmt, BotReviewItem.id, BotReviewItem.id, limit=limit, cursor=cursor)


def _review_item(session: Session, item_id: int, principal: Principal) -> BotReviewItem:
    from kefu.core.access import ensure_brand

    item = session.get(BotReviewItem, item_id)
    if item is None:
        raise NotFound(f"Review item {item_id} not found.")
    ensure_brand(principal, item.brand_id, "Review item")
    if item.status != "open":
        raise Conflict(f"Review item {item_id} is already {item.status}.")
    return item


def attach_review(session: Session, item_id: int, faq_id: int, principal: Principal) -> FaqEntry:
    """Teach the bot: add the customer's wording as a new question variant of an FAQ (retrains in seconds)."""
    item = _review_item(session, item_id, principal)
    faq = get_faq(session, faq_id, principal)
    if faq.brand_id != item.brand_id:
        raise InvalidInput("FAQ belongs to another brand.")
    update_faq(session, faq, principal, {"questions": [*faq.questions, item.text.strip()[:500]]})
    item.status = "attached"
    item.faq_id = faq.id
    item.resolved_by = principal.agent_id
    item.resolved_at = utcnow()
    session.flush()
    record(
        session,
        principal,
        "bot.review_attach",
        target_type="bot_review",
        target_id=item.id,
        brand_id=item.brand_id,
        details={"faq_id": faq.id},
    )
    return faq


def dismiss_review(session: Session, item_id: int, principal: Principal) -> BotReviewItem:
    """Close a review item without teaching."""
    item = _review_item(session, item_id, principal)
    item.status = "dismissed"
    item.resolved_by = principal.agent_id
    item.resolved_at = utcnow()
    session.flush()
    record(
        session, principal, "bot.review_dismiss", target_type="bot_review", target_id=item.id, brand_id=item.brand_id
    )
    return item


def suggest(
    session: Session,
    brand_id: int,
    text: str,
    locale: str,
    k: int = 3,
    registry: IndexRegistry | None = None,
    min_score: float = 0.2,
) -> list[dict[str, Any]]:
    """Agent assist: the best FAQ answers for a customer message, in the customer's locale (weak guesses left out)."""
    index = (registry or get_registry()).get(session, brand_id)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in index.search(text, k * 3):
        if c.score < min_score:
            break
        key = c.faq.intent or f"faq:{c.faq.id}"
        if key in seen:
            continue
        seen.add(key)
        faq_id, answer = localize_answer(session, c.faq, locale)
        out.append(
            {
                "faq_id": faq_id,
                "score": round(c.score, 4),
                "question": _question_in(session, c.faq, locale),
                "answer": answer,
            }
        )
        if len(out) >= k:
            break
    return out


def assist_question(session: Session, conv: Conversation) -> str | None:
    """The latest customer message worth suggesting answers for (skips "give me a human" style messages)."""
    bodies = session.scalars(
        select(Message.body)
        .where(Message.conversation_id == conv.id, Message.sender_type == "customer")
        .order_by(Message.id.desc())
        .limit(5)
    )
    for body in bodies:
        if body and not wants_human(body):
            return str(body)
    return None


def assist_suggestions(session: Session, conv: Conversation) -> list[dict[str, Any]]:
    """Agent assist for a conversation: KB answers for its latest real question, in the customer's locale."""
    last = assist_question(session, conv)
    if not last:
        return []
    customer = session.get(Customer, conv.customer_id)
    brand = session.get(Brand, conv.brand_id)
    assert brand is not None
    locale = detect_locale(last, (customer.locale if customer else None) or brand.default_locale)
    return suggest(session, brand.id, last, locale)


def decision_dict(d: Decision) -> dict[str, Any]:
    """JSON-friendly decision."""
    return asdict(d)
