"""The bot at work: answers from the knowledge base, clarifies, hands off with context, learns from misses."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.bot import smalltalk, texts
from kefu.bot.classifier import MIN_CONFIDENCE, category_keys, classifier_factory
from kefu.bot.emotion import Emotion, analyze, is_anger_alert, wants_human
from kefu.bot.engine import Candidate, FaqDoc, Index, IndexRegistry, get_registry, provisional_served
from kefu.bot.models import BotFeedback, BotReviewItem, BotState
from kefu.bot.nlu.text import HAN_RE as HAN
from kefu.bot.policy import BotSettings, Decision, Memory, Turn, decide, thresholds
from kefu.brands.models import Brand
from kefu.conversations.models import ANNOUNCEMENT_KEYS, Conversation, Message
from kefu.conversations.service import add_message
from kefu.core.access import get_in_brand
from kefu.core.chinese import convert
from kefu.core.db import reads_of, session_scope, utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.customers.claims import verified_owner
from kefu.customers.models import Customer
from kefu.knowledge.models import FaqEntry
from kefu.knowledge.service import get_faq, update_faq
from kefu.llm import service as llm
from kefu.tickets.classify import DEFAULT_CATEGORIES
from kefu.tickets.models import Ticket, TicketCategory
from kefu.tickets.service import category_label, create_ticket, update_ticket

log = logging.getLogger("kefu.bot")

ZH_LOCALES = ("zh-TW", "zh-CN")
MAX_TURN_CHARS = 2000
GENERAL_CATEGORY = "general"
_WANTS_TICKET = re.compile(
    r"^\W*(?:我要|我想)?(?:留言|留個言|建立案件|開單|开单|提交工单|工单|ticket|leave a (?:message|ticket))\W*$", re.I
)


def asks_for_human(text: str) -> bool:
    """A hand-off request (a person: "真人", "agent"; a ticket: "留言"), but not small talk that merely names one.

    "are you a bot?", "你是真人嗎" and "有人在嗎" get the robot/greeting reply, which says how to reach a person.
    """
    if _WANTS_TICKET.match(text.strip()):
        return True
    return wants_human(text) and smalltalk.exact_kind(text) not in ("greeting", "robot")


def detect_locale(text: str, fallback: str) -> str:
    """zh-TW / zh-CN / en for a customer message.

    Any Chinese character makes the message Chinese ("LINE X ATM功能", "我的credit card被lock住了"): the script is
    decided by the Han characters alone (Traditional-only vs Simplified-only characters); text with no
    script-specific character follows the customer's/brand's Chinese locale, else zh-TW. Text without Han is
    English when it has Latin words, else the fallback.
    """
    from kefu.bot.nlu.text import HAN_RE, script_of

    han = "".join(HAN_RE.findall(text))
    if han:
        script = script_of(han)
        if script == "zh-Hant":
            return "zh-TW"
        if script == "zh-Hans":
            return "zh-CN"
        return fallback if fallback in ZH_LOCALES else "zh-TW"
    if re.search(r"[A-Za-z]{2,}", text):
        return "en"
    return fallback


def answer_copy(index: Index, doc: FaqDoc, locale: str) -> FaqDoc:
    """The FAQ's copy in the customer's locale when the brand has one (from the brand's own index), else ``doc``."""
    return index.copy_in(doc, locale) or doc


_CN_QUOTES = str.maketrans({"「": "“", "」": "”", "『": "‘", "』": "’"})
_TW_QUOTES = str.maketrans({"“": "「", "”": "」", "‘": "『", "’": "』"})


def in_script(text: str, source: str, locale: str) -> str:
    """KB text written for ``source`` as a ``locale`` reader expects it: OpenCC phrase conversion between the Chinese
    scripts, with the locale's quotation marks (「」 in Taiwan, “” on the mainland); other pairs are unchanged."""
    if source == "zh-TW" and locale == "zh-CN":
        return convert(text, "tw2sp").translate(_CN_QUOTES)
    if source == "zh-CN" and locale == "zh-TW":
        return convert(text, "s2twp").translate(_TW_QUOTES)
    return text


def faq_answer_text(doc: FaqDoc, locale: str) -> str:
    """The text the bot sends for a matched FAQ (the single place an answer is phrased; an LLM step hooks in here).

    ``doc`` is already the best locale copy; a Chinese answer in the other script is converted.
    """
    return in_script(doc.answer, doc.locale, locale)


def localize_answer(index: Index, doc: FaqDoc, locale: str) -> tuple[int, str]:
    """(FAQ id, answer text) in the customer's locale."""
    copy = answer_copy(index, doc, locale)
    return copy.id, faq_answer_text(copy, locale)


def question_in(index: Index, doc: FaqDoc, locale: str) -> str:
    """The FAQ's first question in the customer's locale (script-converted when only the other script exists)."""
    copy = answer_copy(index, doc, locale)
    q = copy.questions[0] if copy.questions else ""
    return in_script(q, copy.locale, locale)


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


def intent_question(session: Session, brand_id: int, intent: str | None, locale: str, index: Index | None) -> str:
    """The matched intent as agents know it: its FAQ's first question in the reader's locale, else the key."""
    # The served index decides (question_in, as clarify and assist phrase it); the KB rows only stand in when the
    # brand has none (no index yet, or its first one still being built).
    if not intent:
        return "—"
    # An agent reading "return_item" must guess what the bot understood; the FAQ's question says it.
    if index is not None and index.brand_id == brand_id and not index.building:
        # Matched as the rows are (intent or external id): an FAQ with both is grouped by its external id.
        lead = next((d for d in index.docs.values() if intent in (d.intent, d.external_id)), None)
        return (question_in(index, lead, locale) if lead is not None else "") or intent
    rows = session.execute(
        select(FaqEntry.locale, FaqEntry.questions).where(
            FaqEntry.brand_id == brand_id, or_(FaqEntry.intent == intent, FaqEntry.external_id == intent)
        )
    ).all()
    for faq_locale, questions in sorted(rows, key=lambda row: row[0] != locale):
        if questions:
            return in_script(str(questions[0]), faq_locale, locale)
    return intent


def summarize(session: Session, conv: Conversation, locale: str, limit: int = 30, index: Index | None = None) -> str:
    """A short extractive summary for the agent taking over (``index``: the brand's served index, else the live one)."""
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
    # The question, not the greeting: "客戶問題：早安" tells the agent nothing.
    real = [m.body for m in customer_msgs if m.body and smalltalk.strip_smalltalk(m.body).strip()]
    first = real[0] if real else (customer_msgs[0].body if customer_msgs else "")
    last = customer_msgs[-1].body if customer_msgs else ""
    anger = max((int((m.meta or {}).get("emotion", {}).get("anger", 0)) for m in customer_msgs), default=0)
    labels = [str((m.meta or {}).get("emotion", {}).get("label", "")) for m in customer_msgs]
    mood = next((lab for lab in reversed(labels) if lab), "neutral")
    return texts.summary(
        locale,
        first=first[:120],
        last=last[:120] if last != first else "",
        intent=intent_question(
            session,
            conv.brand_id,
            state.last_intent if state else None,
            locale,
            index if index is not None else get_registry().served(conv.brand_id),
        ),
        mood=mood,
        anger=anger,
        # Survey invitations and notices are sent under the bot's name but are not its turns.
        bot_turns=sum(1 for m in msgs if m.sender_type == "bot" and not (m.meta or {}).keys() & ANNOUNCEMENT_KEYS),
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
    session: Session,
    conv: Conversation,
    *,
    reason: str,
    locale: str,
    emotion: Emotion | None = None,
    llm_summary: llm.Answered | None = None,
    index: Index | None = None,
) -> Ticket:
    """Give the conversation to humans: create or update its ticket with transcript, intent, emotion and summary.

    ``llm_summary`` is an LLM call already made outside the transaction (``respond``); none is made here.
    """
    state = _state(session, conv.id)
    customer = session.get(Customer, conv.customer_id)
    urgent = reason == "anger" or (emotion is not None and is_anger_alert(emotion))
    vip = bool(customer and customer.vip)
    priority = "urgent" if urgent else ("high" if vip else "normal")
    summary = (llm.settle(session, conv, llm_summary) if llm_summary is not None else None) or summarize(
        session, conv, locale, index=index
    )
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
        first = first_real_question(session, conv)
        category = None
        if state.last_intent and first:  # a chat of greetings only has no topic, whatever the bot guessed
            category = session.scalar(
                select(FaqEntry.category)
                .where(
                    FaqEntry.brand_id == conv.brand_id,
                    or_(FaqEntry.intent == state.last_intent, FaqEntry.external_id == state.last_intent),
                )
                .limit(1)
            )
        keys = category_keys(session, conv.brand_id)
        if category not in keys:
            category = None  # KB topics are not always ticket categories; the classifier decides on the real question
            if first:
                guess, confidence = classifier_factory(session, conv.brand_id).classify(first)
                category = guess if guess in keys and confidence >= MIN_CONFIDENCE else None
            elif GENERAL_CATEGORY in keys:
                # Greetings and thanks only: a general inquiry, never left to a classifier reading "你好" (nor a
                # complaint).
                category = GENERAL_CATEGORY
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


def first_real_question(session: Session, conv: Conversation) -> str | None:
    """The first customer message that asks something: not small talk ("你好", "謝謝"), not a request for a person
    or a ticket ("真人", "agent", "留言") — a ticket is not titled "你好"; None when the chat has no such message."""
    bodies = session.scalars(
        select(Message.body)
        .where(Message.conversation_id == conv.id, Message.sender_type == "customer")
        .order_by(Message.id)
        .limit(20)
    )
    for body in bodies:
        if not body or not smalltalk.strip_smalltalk(body).strip():
            continue
        if wants_human(body) or _WANTS_TICKET.match(body.strip()):
            continue
        return str(body)
    return None


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
                {"faq_id": c.faq.id, "score": round(c.score, 4), "question": c.matched_question}
                for c in cands[:3]
                if c.faq is not None
            ],
        )
    )
    session.flush()


def _anger_alert(
    session: Session, conv: Conversation, msg: Message, e: Emotion, threshold: int, *, tell_people: bool = True
) -> None:
    if not is_anger_alert(e, threshold):
        return
    publish(
        session,
        "alert.anger",
        {"conversation_id": conv.id, "message_id": msg.id, "anger": e.anger, "label": e.label, "cues": list(e.cues)},
        (f"brand:{conv.brand_id}", f"conversation:{conv.id}"),
    )
    ticket = session.get(Ticket, conv.ticket_id) if conv.ticket_id is not None else None
    if ticket is not None and ticket.priority != "urgent" and ticket.status not in ("closed",):
        update_ticket(session, ticket, None, {"priority": "urgent"})
    if tell_people:  # once per conversation: the event above had no listener, so no supervisor ever saw the alert
        _notify_anger(session, conv, ticket, e)


def _notify_anger(session: Session, conv: Conversation, ticket: Ticket | None, e: Emotion) -> None:
    """The chat's owner and its team's leads (the brand's leads while no team has it) get a stored notification."""
    from kefu.auth.models import Team, TeamMember
    from kefu.sla.notifications import localized, notify

    team_id = (ticket.team_id if ticket is not None else None) or conv.team_id
    leads = select(TeamMember.agent_id).where(TeamMember.is_lead.is_(True)).order_by(TeamMember.agent_id)
    if team_id is not None:
        leads = leads.where(TeamMember.team_id == team_id)
    else:
        leads = leads.join(Team, Team.id == TeamMember.team_id).where(Team.brand_id == conv.brand_id)
    owners = [a for a in (conv.assignee_id, ticket.assignee_id if ticket is not None else None) if a is not None]
    notify(
        session,
        [*owners, *session.scalars(leads)],
        "alert.anger",
        localized("notif_anger_alert", level=e.anger),
        brand_id=conv.brand_id,
        ticket_id=ticket.id if ticket is not None else None,
        data={"conversation_id": conv.id, "anger": e.anger},
    )


@dataclass(frozen=True)
class Plan:
    """One turn decided from a read-only look at the conversation, plus the LLM replies fetched for it afterwards.

    ``decision`` is None when the bot does not answer (humans own the conversation, or the bot is off); the
    snapshot fields say what the plan assumed, so the write step can tell whether it still holds.
    """

    message_id: int
    status: str
    failures: int
    options: tuple[int, ...]
    emotion: Emotion
    decision: Decision | None = None
    locale: str = ""
    cands: tuple[Candidate, ...] = ()
    index: Index | None = None
    answer_t: float = 0.0
    llm: dict[str, llm.Answered] = field(default_factory=dict)


def _plan(session: Session, conv: Conversation, msg: Message, registry: IndexRegistry | None) -> Plan:
    """Decide the turn with reads only (no row is written, so it can run before, and outside, the write step)."""
    brand = session.get(Brand, conv.brand_id)
    customer = session.get(Customer, conv.customer_id)
    assert brand is not None and customer is not None
    settings = BotSettings.from_brand(brand.settings)
    # The bot reads the head of a message: an FAQ question is short, and ranking or scanning a pasted 5 MB text
    # would cost seconds of CPU per message (a webhook may carry that much).
    body = msg.body[:MAX_TURN_CHARS]
    emotion = analyze(body)
    state = session.get(BotState, conv.id)
    failures = state.failures if state is not None else 0
    options = tuple(int(x) for x in state.clarify_options) if state is not None else ()
    base = Plan(msg.id, conv.status, failures, options, emotion)
    if conv.status != "bot" or not settings.enabled:
        return base
    locale = detect_locale(body, customer.locale or brand.default_locale)
    index = (registry or get_registry()).get(session, brand.id)
    cands = tuple(index.search(body, 5))
    answer_t, clarify_t = thresholds(settings, index.answer_threshold, index.clarify_threshold, stand_in=index.stand_in)
    labels = tuple(question_in(index, index.docs[i], locale) if i in index.docs else "" for i in options)
    turn = Turn(
        text=body,
        candidates=cands,
        emotion=emotion,
        wants_human=asks_for_human(body),
        vip=customer.vip,
        memory=Memory(failures=failures, clarify_options=options, option_labels=labels),
        answer_threshold=answer_t,
        clarify_threshold=clarify_t,
    )
    return replace(
        base,
        decision=decide(turn, settings),
        locale=locale,
        cands=cands,
        index=index,
        answer_t=answer_t,
    )


def _llm_calls(session: Session, conv: Conversation, msg: Message, plan: Plan) -> dict[str, llm.Call]:
    """The LLM calls a planned turn will want (none when the LLM is off), prepared from reads only."""
    d, index = plan.decision, plan.index
    if d is None or index is None or not llm.enabled():
        return {}
    calls: dict[str, llm.Call | None] = {}
    if d.action == "answer" and d.faq_id is not None:
        doc = index.docs.get(d.faq_id) or _published_doc(session, conv.brand_id, d.faq_id)
        if doc is not None:
            copy = answer_copy(index, doc, plan.locale)
            answer = faq_answer_text(copy, plan.locale)
            calls[f"phrase:{copy.id}"] = llm.plan_phrase(session, conv, msg.body, copy.id, answer, plan.locale)
    elif d.action == "handoff":
        calls["summary"] = llm.plan_summary(session, conv, plan.locale)
    return {k: c for k, c in calls.items() if c is not None}


def respond(
    factory: Callable[[], Session], conversation_id: int, message_id: int, registry: IndexRegistry | None = None
) -> Decision | None:
    """The bot's turn for one committed customer message, with no write transaction open while it thinks.

    1. short read-only sessions: load the brand's index (``ensure``); when an LLM is configured, decide the turn
       and prepare its LLM call;
    2. no session: call the LLM (bounded by its timeout);
    3. one short write transaction: ``handle_customer_message`` re-checks that the message is not handled yet and
       that the conversation is as planned, then writes the reply (a replay changes nothing: exactly once).
    """
    registry = registry or get_registry()
    started = time.monotonic()
    with session_scope(factory) as session:
        conv = session.get(Conversation, conversation_id)
        brand_id, bot_owned = (conv.brand_id, conv.status == "bot") if conv is not None else (None, False)
    if brand_id is None:
        return None
    if bot_owned:  # conversations humans own only get the emotion check: no index needed
        index = registry.ensure(brand_id, factory)
        if (
            registry.fit_wait > 0
            and provisional_served(index)
            and _stand_in_falls_short(factory, conversation_id, message_id, registry)
        ):
            registry.wait_fitted(brand_id, registry.fit_wait)
    plan: Plan | None = None
    calls: dict[str, llm.Call] = {}
    # Without an LLM the write step alone is enough: it reads and decides before its first write, so no lock is held
    # while the bot thinks; the separate read-only step exists to keep the HTTP wait out of any transaction.
    with session_scope(factory) if llm.enabled() else nullcontext() as session:
        if session is not None:
            conv = session.get(Conversation, conversation_id)
            msg = session.get(Message, message_id)
            if _answerable(conv, msg):
                assert conv is not None and msg is not None
                plan = _plan(session, conv, msg, registry)
                calls = _llm_calls(session, conv, msg, plan)
            session.rollback()  # nothing was written; end the read transaction before any HTTP call
    if plan is not None and calls:
        plan = replace(plan, llm={key: llm.run(call) for key, call in calls.items()})
    with session_scope(factory) as session:
        decision = handle_customer_message(session, conversation_id, message_id, registry, plan=plan)
    # Ids only: when a customer says they got no answer, the log tells whether the bot ran, what it did and when.
    log.info(
        "bot turn: conversation %s message %s: %s in %.2fs",
        conversation_id,
        message_id,
        decision.action if decision is not None else "none",
        time.monotonic() - started,
    )
    return decision


def _stand_in_falls_short(
    factory: Callable[[], Session], conversation_id: int, message_id: int, registry: IndexRegistry
) -> bool:
    """True when the provisional index would only offer options or fall back on this message (read-only)."""
    with session_scope(reads_of(factory)) as session:  # a read: on SQLite, planning takes no write turn
        conv = session.get(Conversation, conversation_id)
        msg = session.get(Message, message_id)
        plan = _plan(session, conv, msg, registry) if conv and msg and _answerable(conv, msg) else None
        session.rollback()
    d = plan.decision if plan is not None else None
    return d is not None and (d.action in ("clarify", "fallback") or d.reason == "unresolved")


def _answerable(conv: Conversation | None, msg: Message | None) -> bool:
    return (
        conv is not None
        and msg is not None
        and msg.conversation_id == conv.id
        and msg.sender_type == "customer"
        and not (msg.meta or {}).get("bot_handled")
    )


def handle_customer_message(
    session: Session,
    conversation_id: int,
    message_id: int,
    registry: IndexRegistry | None = None,
    *,
    plan: Plan | None = None,
) -> Decision | None:
    """React to one inbound customer message (idempotent per message: a replay changes nothing).

    ``plan`` comes from ``respond``'s read-only step (with any LLM replies); it is used only if the conversation
    is still as it assumed, else the turn is decided again here, without the LLM. Reads come before the first write.
    """
    conv = session.get(Conversation, conversation_id)
    msg = session.get(Message, message_id)
    if not _answerable(conv, msg):
        return None
    assert conv is not None and msg is not None
    existing = session.get(BotState, conv.id)
    current = (
        conv.status,
        existing.failures if existing is not None else 0,
        tuple(int(x) for x in existing.clarify_options) if existing is not None else (),
    )
    unused: dict[str, llm.Answered] = {}
    if plan is None or plan.message_id != msg.id or (plan.status, plan.failures, plan.options) != current:
        unused = dict(plan.llm) if plan is not None else {}
        plan = _plan(session, conv, msg, registry)
    replies = dict(plan.llm)
    brand = session.get(Brand, conv.brand_id)
    assert brand is not None
    settings = BotSettings.from_brand(brand.settings)
    emotion = plan.emotion
    state = _state(session, conv.id)
    calm_until_now = state.max_anger < settings.anger_threshold
    state.max_anger = max(state.max_anger, emotion.anger)
    msg.meta = {**(msg.meta or {}), "emotion": emotion_meta(emotion), "bot_handled": True}
    _anger_alert(session, conv, msg, emotion, settings.anger_threshold, tell_people=calm_until_now)
    decision, index = plan.decision, plan.index
    if decision is not None and index is not None:
        msg.meta = {
            **msg.meta,
            "bot": {"action": decision.action, "confidence": decision.confidence, "reason": decision.reason},
        }
        top = plan.cands[0] if plan.cands else None
        if top is not None and top.faq is not None:
            state.last_confidence = top.score
            # Only a confident match names the intent (a ticket's category follows it); a guess offered as one of
            # several options must not overwrite a known intent.
            if top.score >= plan.answer_t:
                state.last_intent = _intent_of(top.faq) or state.last_intent
        _apply(session, conv, msg, decision, plan.locale, plan.cands, index, emotion, replies)
    for answered in [*unused.values(), *replies.values()]:  # made but not used: audited all the same
        llm.settle(session, conv, answered, used=False)
    session.flush()
    return decision


def _intent_of(doc: FaqDoc) -> str | None:
    return (doc.intent or (doc.external_id or "")[:64]) or None


def _apply(
    session: Session,
    conv: Conversation,
    msg: Message,
    d: Decision,
    locale: str,
    cands: tuple[Candidate, ...],
    index: Index,
    emotion: Emotion,
    replies: dict[str, llm.Answered],
) -> None:
    """Write the decided reply; LLM replies it uses are taken out of ``replies`` (and audited)."""
    state = _state(session, conv.id)
    if d.action == "answer" and d.faq_id is not None:
        doc = index.docs.get(d.faq_id) or _published_doc(session, conv.brand_id, d.faq_id)
        if doc is None:  # the option picked was withdrawn since it was offered: no dead end, say what the bot can do
            fallback = Decision("fallback", failures=state.failures + 1, reason="low_confidence")
            _apply(session, conv, msg, fallback, locale, cands, index, emotion, replies)
            return
        copy = answer_copy(index, doc, locale)
        answer = faq_answer_text(copy, locale)
        made = replies.pop(f"phrase:{copy.id}", None)
        phrased = llm.settle(session, conv, made) if made is not None else None  # None: the FAQ verbatim
        state.failures = 0
        state.clarify_options = []
        state.last_intent = _intent_of(doc) or state.last_intent
        add_message(
            session,
            conv,
            sender_type="bot",
            body=phrased or answer,
            meta={
                "faq_id": copy.id,
                "confidence": d.confidence,
                "intent": doc.intent,
                # A rephrased answer is the LLM's plain text, whatever format the FAQ itself is written in.
                "answer_format": "text" if phrased else copy.answer_format,
                "ask_feedback": True,
            }
            | ({"llm": True} if phrased else {}),
        )
    elif d.action == "clarify":
        options = [i for i in d.options if i in index.docs]
        questions = [question_in(index, index.docs[i], locale) for i in options]
        state.clarify_options = list(options)
        add_message(
            session,
            conv,
            sender_type="bot",
            body=texts.clarify(locale, questions),
            meta={"clarify": list(options), "quick_replies": texts.quick_replies(locale, questions, human=True)},
        )
    elif d.action == "smalltalk":
        state.clarify_options = []
        add_message(
            session,
            conv,
            sender_type="bot",
            body=texts.smalltalk(locale, d.reason or "chitchat"),
            meta={"smalltalk": d.reason},
        )
    elif d.action == "fallback":
        state.failures = d.failures
        state.clarify_options = []
        _review(session, conv, msg, d.reason or "low_confidence", locale, cands)
        topics, questions = fallback_topics(session, conv.brand_id, index, locale)
        add_message(
            session,
            conv,
            sender_type="bot",
            body=texts.fallback(locale, topics, questions),
            meta={"fallback": True, "quick_replies": texts.quick_replies(locale, [], human=True)},
        )
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
        ticket = handoff(
            session,
            conv,
            reason=d.reason or "requested",
            locale=locale,
            emotion=emotion,
            llm_summary=replies.pop("summary", None),
            index=index,
        )
        add_message(
            session,
            conv,
            sender_type="bot",
            body=texts.handoff(locale, d.reason or "", ticket.number),
            meta={"handoff": d.reason, "ticket_id": ticket.id},
        )


# Ticket categories that say nothing about what the bot can answer.
_VAGUE_TOPICS = frozenset({"general", "other", "others", "misc", "complaint", "faq"})


def fallback_topics(session: Session, brand_id: int, index: Index, locale: str) -> tuple[list[str], list[str]]:
    """(topic names, example questions) for the fallback, in the customer's locale — never internal keys.

    A KB topic that is a ticket-category key is shown by that category's label; a topic the editors named in words
    is shown as written (script-converted; Chinese names are not shown to English readers). With fewer than two
    such names the bot quotes its FAQ questions instead.
    """
    keys = index.topics(12)
    labels: dict[str, tuple[str, str]] = {}
    slugs = [k for k in keys if texts.is_slug(k)]
    if slugs:
        rows = session.execute(
            select(TicketCategory.key, TicketCategory.label_zh, TicketCategory.label_en).where(
                TicketCategory.brand_id == brand_id, TicketCategory.key.in_(slugs)
            )
        )
        labels = {k: (zh, en) for k, zh, en in rows}
        labels.update(
            {c.key: (c.label_zh, c.label_en) for c in DEFAULT_CATEGORIES if c.key in slugs and c.key not in labels}
        )
    names: list[str] = []
    for key in keys:
        if key.lower() in _VAGUE_TOPICS:
            continue
        if key in labels:
            zh, en = labels[key]
            if locale == "zh-CN":  # the catalog's mainland label for a default category, not a conversion
                name = category_label(key, zh, en, locale)
            else:
                name = _english_topic(en) if locale == "en" else _in_script(zh, locale)
        elif texts.is_slug(key):
            continue
        elif locale == "en":
            name = "" if HAN.search(key) else key
        else:
            name = _in_script(key, locale)
        if name and name not in names:
            names.append(name)
        if len(names) == 3:
            break
    if len(names) >= 2:
        return names, []
    questions: list[str] = []
    for doc in sorted(index.docs.values(), key=lambda d: d.id):
        if len(questions) == 2:
            break
        if doc.locale != locale and index.copy_in(doc, locale) is not None:
            continue  # its own copy in this locale comes up by itself
        if locale == "en" and doc.locale != "en":
            continue
        q = question_in(index, doc, locale)
        if q and q not in questions:
            questions.append(q)
    return [], questions


def _english_topic(label: str) -> str:
    """A category label as it reads mid-sentence ("Account anomaly" → "account anomaly", "VIP card" stays)."""
    label = label.strip()
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def _in_script(text: str, locale: str) -> str:
    return in_script(text, "zh-CN" if locale == "zh-TW" else "zh-TW", locale) if locale in ZH_LOCALES else text


def _published_doc(session: Session, brand_id: int, faq_id: int) -> FaqDoc | None:
    faq = session.scalar(
        select(FaqEntry).where(FaqEntry.id == faq_id, FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True))
    )
    if faq is None:
        return None
    return FaqDoc(
        faq.id,
        faq.locale,
        tuple(str(q) for q in faq.questions),
        faq.answer,
        faq.intent,
        faq.category,
        faq.external_id,
        faq.answer_format,
    )


def ticket_status_text(session: Session, conv: Conversation, number: str, locale: str) -> str:
    """Progress of a ticket, told only to the customer who owns it (others are sent to the verified portal)."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number, Ticket.brand_id == conv.brand_id))
    if ticket is None or not verified_owner(session, conv, ticket.customer_id):  # unverified claims learn nothing
        return texts.t(locale, "ticket_unknown").format(number=number)
    brand = session.get(Brand, ticket.brand_id)
    return texts.ticket_status(
        locale, ticket.number, ticket.status, ticket.updated_at, brand.timezone if brand else None
    )


# ---------------------------------------------------------------- learning loop and agent assist


def record_feedback(session: Session, message_id: int, helpful: bool) -> BotFeedback:
    """Store a "was this helpful?" vote; an unhelpful answer goes to the review queue."""
    msg = session.get(Message, message_id)
    if msg is None or msg.sender_type != "bot" or not (msg.meta or {}).get("faq_id"):
        raise NotFound.said("err_bot_no_answer")
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

    item = get_in_brand(session, BotReviewItem, item_id, principal, f"Review item {item_id}")
    if item.status != "open":
        raise Conflict.said("err_bot_review_done", item_id=item_id, status=item.status)
    return item


def attach_review(session: Session, item_id: int, faq_id: int, principal: Principal) -> FaqEntry:
    """Teach the bot: add the customer's wording as a new question variant of an FAQ (retrains in seconds)."""
    item = _review_item(session, item_id, principal)
    faq = get_faq(session, faq_id, principal)
    if faq.brand_id != item.brand_id:
        raise InvalidInput.said("err_bot_faq_other_brand")
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
    index = (registry or get_registry()).get(session, brand_id, wait=False)
    out: list[dict[str, Any]] = []
    for c in index.search(text, k * 2):
        if c.faq is None:
            continue
        if c.score < min_score:
            break
        faq_id, answer = localize_answer(index, c.faq, locale)
        out.append(
            {
                "faq_id": faq_id,
                "score": round(c.score, 4),
                "question": question_in(index, c.faq, locale),
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
