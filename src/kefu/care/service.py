"""Proactive care (seed 004 「主動關懷與增值服務」): notice customers who are stuck and let a person step in.

Detection reads signals the product already records, per brand under its rules (``settings["care"]``,
`commands.CareRules` has the defaults):

* ``topic_repeat`` — the same topic ``topic_repeats`` (3) times within ``topic_window_hours`` (24), across channels:
  each case opened in a ticket category counts once, and so does each bot answer from an FAQ of that category.
* ``bot_struggle`` — the bot fell back (``meta.fallback``) ``bot_failures`` (2) times in one conversation, or the
  customer sent the same question (same text, 4+ characters) twice in one conversation.
* ``stuck_flow`` — the web-chat widget reports the page path and flow step (`care.flow`, about once a minute
  while the page is visible): the visitor stayed on one step ``dwell_minutes`` (5) or came back to it
  ``step_returns`` (3) times within ``flow_window_minutes`` (60).
* ``reopened`` — a case reopened ``reopens`` (2) times (the ``reopen_count`` the lifecycle keeps).

The periodic job ``care.detect`` (every 5 minutes) runs every rule; a case reopening and a widget step are also
checked at once (a ticket status hook, the event endpoint). Each finding raises at most one open opportunity per
customer and reason (a partial unique index), and none for ``quiet_hours`` (72) after the last one for that customer
and reason, whatever became of it: detection re-running is a no-op. A new opportunity alerts the customer's
assignee (their open case's or conversation's), else the brand's agents, through the notifications.

Agents reach out (a message on the customer's latest conversation on a channel that can carry it, sent by the
outbox after commit, refused with 409 when the customer withdrew outreach consent — `kefu.surveys.consent`), dismiss
with a reason, or convert to a case. `stats` counts detections and outcomes, and customers who replied within 48 h.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.auth.service import assignable_agents
from kefu.brands.models import Brand, Inbox
from kefu.brands.service import get_brand
from kefu.care.commands import CareRules, ConvertToCase, DismissOpportunity, ReachOut, ensure
from kefu.care.models import CareFlowEvent, CareOpportunity, CareReason, CareStatus
from kefu.conversations.commands import PostMessage, UpdateConversation
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import post_message, update_conversation
from kefu.core.access import ensure_brand, get_in_brand, scope_to_brands
from kefu.core.catalog import gettext
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.events import publish
from kefu.customers.models import Customer
from kefu.knowledge.models import FaqEntry
from kefu.notices.models import CustomerNotice
from kefu.sla.notifications import notify
from kefu.surveys.consent import DELIVERABLE_CHANNELS, outreach_block
from kefu.tickets import service as ticket_service
from kefu.tickets.models import Ticket

REPLY_WINDOW = timedelta(hours=48)
MIN_REPEAT_CHARS = 4  # "好", "hi", "ok" repeated are not a repeated question
FLOW_KEEP = timedelta(days=2)  # longer than the widest flow window (24 h); browsing history is not kept beyond
_SCAN = 20_000  # rows one detection pass reads per signal: bounded work on a busy brand


# ---------------------------------------------------------------- rules


def rules_of(brand: Brand) -> CareRules:
    """The brand's rules: its stored settings over the defaults (a broken stored value falls back to defaults)."""
    stored = (brand.settings or {}).get("care")
    if not isinstance(stored, Mapping):
        return CareRules()
    try:
        return CareRules.model_validate(dict(stored))
    except ValueError:
        return CareRules()


def get_rules(session: Session, actor: Principal, brand_id: int) -> CareRules:
    """A brand's rules (defaults where unset)."""
    return rules_of(get_brand(session, brand_id, actor))


def set_rules(session: Session, actor: Principal, brand_id: int, command: CareRules | Mapping[str, Any]) -> CareRules:
    """Replace a brand's rules (audited)."""
    cmd = ensure(CareRules, command)
    brand = get_brand(session, brand_id, actor)
    brand.settings = {**(brand.settings or {}), "care": cmd.model_dump()}
    session.flush()
    record(session, actor, "care.rules", target_type="brand", target_id=brand.id, brand_id=brand.id,
           details=cmd.model_dump())  # fmt: skip
    return cmd


# ---------------------------------------------------------------- raising opportunities


def _recipients(session: Session, brand_id: int, customer_id: int) -> list[int]:
    """Who hears of a new opportunity: the customer's current owner, else every agent of the brand."""
    owner = session.scalar(
        select(Ticket.assignee_id)
        .where(
            Ticket.customer_id == customer_id,
            Ticket.assignee_id.is_not(None),
            Ticket.status.not_in(("resolved", "closed")),
        )
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(1)
    ) or session.scalar(
        select(Conversation.assignee_id)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.assignee_id.is_not(None),
            Conversation.status.in_(("open", "pending")),
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if owner:
        return [owner]
    # One look-up per brand and unit of work: a detection pass may raise hundreds for the same brand.
    cache: dict[int, list[int]] = session.info.setdefault("care_brand_agents", {})
    if brand_id not in cache:
        cache[brand_id] = [a.id for a in assignable_agents(session, brand_id)]
    return cache[brand_id]


def raise_opportunity(
    session: Session,
    brand: Brand,
    customer_id: int,
    reason: CareReason,
    evidence: dict[str, Any],
    now: datetime | None = None,
) -> CareOpportunity | None:
    """Queue an opportunity unless one for this customer and reason is open or was raised within the quiet hours."""
    rules = rules_of(brand)
    if not rules.enabled:
        return None
    now = now or utcnow()
    recent = session.scalar(
        select(CareOpportunity.id)
        .where(
            CareOpportunity.customer_id == customer_id,
            CareOpportunity.reason == reason,
            (CareOpportunity.status == CareStatus.OPEN)
            | (CareOpportunity.detected_at >= now - timedelta(hours=rules.quiet_hours)),
        )
        .limit(1)
    )
    if recent is not None:
        return None
    opp = CareOpportunity(brand_id=brand.id, customer_id=customer_id, reason=reason, evidence=evidence, detected_at=now)
    try:
        with session.begin_nested():  # a concurrent detector raised the same one: the unique index says no
            session.add(opp)
            session.flush()
    except IntegrityError:
        return None
    record(
        session,
        None,
        "care.detected",
        target_type="care_opportunity",
        target_id=opp.id,
        brand_id=brand.id,
        details={"reason": str(reason), "customer_id": customer_id},
        actor_type="system",
        actor_label="care",
    )
    publish(
        session,
        "care.opportunity",
        {"id": opp.id, "reason": str(reason), "customer_id": customer_id},
        (f"brand:{brand.id}",),
    )
    notify(
        session,
        _recipients(session, brand.id, customer_id),
        "care.opportunity",
        lambda loc: gettext("notif_care_opportunity", loc).format(reason=gettext(f"care_reason_{reason}", loc)),
        brand_id=brand.id,
        ticket_id=next(iter(evidence.get("ticket_ids") or []), None),
        # The notification list links a conversation_id in data: the evidence's conversation, where help is needed.
        data={"care_id": opp.id, "reason": str(reason), "customer_id": customer_id}
        | ({"conversation_id": evidence["conversation_ids"][0]} if evidence.get("conversation_ids") else {}),
    )
    return opp


# ---------------------------------------------------------------- detection


@dataclass
class DetectResult:
    """How many opportunities one detection pass raised, per reason."""

    raised: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # (customer, reason) already open or raised within the brand's quiet hours: skipped without a query each.
    quiet: set[tuple[int, str]] = field(default_factory=set)

    def add(self, opp: CareOpportunity | None) -> None:
        """Count a raised opportunity (None: suppressed)."""
        if opp is not None:
            self.raised[str(opp.reason)] += 1
            self.quiet.add((opp.customer_id, str(opp.reason)))

    def raise_unless_quiet(
        self,
        session: Session,
        brand: Brand,
        customer_id: int,
        reason: CareReason,
        evidence: dict[str, Any],
        now: datetime,
    ) -> None:
        """`raise_opportunity`, skipped at once for a customer and reason known to be quiet."""
        if (customer_id, str(reason)) not in self.quiet:
            self.add(raise_opportunity(session, brand, customer_id, reason, evidence, now))


def detect(session: Session, now: datetime | None = None) -> DetectResult:
    """Run every rule for every brand that has care enabled (idempotent: see the module docstring)."""
    now = now or utcnow()
    result = DetectResult()
    brands = {b.id: b for b in session.scalars(select(Brand)) if rules_of(b).enabled}
    if not brands:
        return result
    for brand_id, customer_id, reason, status, at in session.execute(
        select(
            CareOpportunity.brand_id,
            CareOpportunity.customer_id,
            CareOpportunity.reason,
            CareOpportunity.status,
            CareOpportunity.detected_at,
        ).where(
            CareOpportunity.brand_id.in_(brands),
            (CareOpportunity.status == CareStatus.OPEN)
            | (
                CareOpportunity.detected_at
                >= now - timedelta(hours=max(rules_of(b).quiet_hours for b in brands.values()))
            ),
        )
    ):
        if status == CareStatus.OPEN or at >= now - timedelta(hours=rules_of(brands[brand_id]).quiet_hours):
            result.quiet.add((customer_id, str(reason)))
    _detect_topics(session, brands, now, result)
    _detect_bot_struggle(session, brands, now, result)
    _detect_flows(session, brands, now, result)
    _detect_reopens(session, brands, now, result)
    prune_flow_events(session, now)
    session.flush()
    return result


def prune_flow_events(session: Session, now: datetime | None = None) -> int:
    """Delete page/step reports older than FLOW_KEEP: they only ever serve the stuck-in-flow rule's window."""
    cutoff = (now or utcnow()) - FLOW_KEEP
    result = session.execute(delete(CareFlowEvent).where(CareFlowEvent.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _detect_topics(session: Session, brands: dict[int, Brand], now: datetime, result: DetectResult) -> None:
    widest = max(rules_of(b).topic_window_hours for b in brands.values())
    since = now - timedelta(hours=widest)
    asks: dict[tuple[int, int, str], list[tuple[datetime, str, int]]] = defaultdict(list)
    for tid, brand_id, customer_id, category, at in session.execute(
        select(Ticket.id, Ticket.brand_id, Ticket.customer_id, Ticket.category, Ticket.created_at)
        .where(
            Ticket.brand_id.in_(brands),
            Ticket.created_at >= since,
            Ticket.customer_id.is_not(None),
            Ticket.category.is_not(None),
            Ticket.merged_into_id.is_(None),
        )
        .limit(_SCAN)
    ):
        if customer_id is not None and category:
            asks[(brand_id, customer_id, category)].append((at, "ticket", tid))
    faq_id = Message.meta["faq_id"].as_integer()
    answers = session.execute(
        select(Message.brand_id, Conversation.customer_id, Message.conversation_id, faq_id, Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.brand_id.in_(brands),
            Message.sender_type == "bot",
            Message.created_at >= since,
            faq_id.is_not(None),
        )
        .limit(_SCAN)
    ).all()
    faq_ids = {int(r[3]) for r in answers}
    categories: dict[int, str | None] = {}
    if faq_ids:
        for fid, category in session.execute(select(FaqEntry.id, FaqEntry.category).where(FaqEntry.id.in_(faq_ids))):
            categories[fid] = category
    for brand_id, customer_id, conv_id, fid, at in answers:
        category = categories.get(int(fid))
        if category:
            asks[(brand_id, customer_id, category)].append((at, "conversation", conv_id))
    for (brand_id, customer_id, category), rows in asks.items():
        rules = rules_of(brands[brand_id])
        inside = [r for r in rows if r[0] >= now - timedelta(hours=rules.topic_window_hours)]
        if len(inside) < rules.topic_repeats:
            continue
        evidence = {
            "topic": category,
            "count": len(inside),
            "ticket_ids": sorted({i for _, kind, i in inside if kind == "ticket"}),
            "conversation_ids": sorted({i for _, kind, i in inside if kind == "conversation"}),
        }
        result.raise_unless_quiet(session, brands[brand_id], customer_id, CareReason.TOPIC_REPEAT, evidence, now)


def _detect_bot_struggle(session: Session, brands: dict[int, Brand], now: datetime, result: DetectResult) -> None:
    widest = max(rules_of(b).topic_window_hours for b in brands.values())
    since = now - timedelta(hours=widest)
    fallback = Message.meta["fallback"].as_boolean()
    found: dict[int, tuple[int, int, dict[str, Any]]] = {}
    for brand_id, customer_id, conv_id, n in session.execute(
        select(Message.brand_id, Conversation.customer_id, Message.conversation_id, func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.brand_id.in_(brands),
            Message.sender_type == "bot",
            Message.created_at >= since,
            fallback.is_(True),
        )
        .group_by(Message.brand_id, Conversation.customer_id, Message.conversation_id)
        .limit(_SCAN)
    ):
        if n >= rules_of(brands[brand_id]).bot_failures:
            found[conv_id] = (brand_id, customer_id, {"conversation_ids": [conv_id], "fallbacks": int(n)})
    norm = func.lower(func.trim(Message.body))
    for brand_id, customer_id, conv_id, n in session.execute(
        select(Message.brand_id, Conversation.customer_id, Message.conversation_id, func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.brand_id.in_(brands),
            Message.sender_type == "customer",
            Message.is_note.is_(False),
            Message.created_at >= since,
            func.length(func.trim(Message.body)) >= MIN_REPEAT_CHARS,
        )
        .group_by(Message.brand_id, Conversation.customer_id, Message.conversation_id, norm)
        .having(func.count() >= 2)
        .limit(_SCAN)
    ):
        if conv_id in found:
            found[conv_id][2]["repeated"] = int(n)
        else:
            found[conv_id] = (brand_id, customer_id, {"conversation_ids": [conv_id], "repeated": int(n)})
    for brand_id, customer_id, evidence in found.values():
        result.raise_unless_quiet(session, brands[brand_id], customer_id, CareReason.BOT_STRUGGLE, evidence, now)


def flow_finding(events: Sequence[CareFlowEvent], rules: CareRules) -> dict[str, Any] | None:
    """Evidence that one visitor is stuck on a step (events oldest first), or None."""
    runs: list[tuple[tuple[str, str], datetime, datetime]] = []  # consecutive reports of one page/step
    for e in events:
        key = (e.path, e.step)
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], e.created_at)
        else:
            runs.append((key, e.created_at, e.created_at))
    visits: dict[tuple[str, str], int] = defaultdict(int)
    for key, start, end in runs:
        visits[key] += 1
        if end - start >= timedelta(minutes=rules.dwell_minutes):
            return {"path": key[0], "step": key[1], "dwell_minutes": int((end - start).total_seconds() // 60)}
        if visits[key] >= rules.step_returns:
            return {"path": key[0], "step": key[1], "visits": visits[key]}
    return None


def _check_visitor(
    session: Session, brand: Brand, inbox_id: int, visitor_id: str, customer_id: int, now: datetime
) -> CareOpportunity | None:
    rules = rules_of(brand)
    events = session.scalars(
        select(CareFlowEvent)
        .where(
            CareFlowEvent.inbox_id == inbox_id,
            CareFlowEvent.visitor_id == visitor_id,
            CareFlowEvent.created_at >= now - timedelta(minutes=rules.flow_window_minutes),
        )
        .order_by(CareFlowEvent.created_at, CareFlowEvent.id)
        .limit(500)
    ).all()
    finding = flow_finding(events, rules)
    if finding is None:
        return None
    conv = session.scalar(
        select(Conversation.id)
        .where(Conversation.customer_id == customer_id, Conversation.inbox_id == inbox_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    finding["conversation_ids"] = [conv] if conv else []
    return raise_opportunity(session, brand, customer_id, CareReason.STUCK_FLOW, finding, now)


def _detect_flows(session: Session, brands: dict[int, Brand], now: datetime, result: DetectResult) -> None:
    widest = max(rules_of(b).flow_window_minutes for b in brands.values())
    visitors = session.execute(
        select(CareFlowEvent.brand_id, CareFlowEvent.inbox_id, CareFlowEvent.visitor_id, CareFlowEvent.customer_id)
        .where(
            CareFlowEvent.brand_id.in_(brands),
            CareFlowEvent.created_at >= now - timedelta(minutes=widest),
            CareFlowEvent.customer_id.is_not(None),
        )
        .distinct()
        .limit(_SCAN)
    ).all()
    for brand_id, inbox_id, visitor_id, customer_id in visitors:
        if customer_id is None or (customer_id, str(CareReason.STUCK_FLOW)) in result.quiet:
            continue
        result.add(_check_visitor(session, brands[brand_id], inbox_id, visitor_id, customer_id, now))


def _reopened(session: Session, brand: Brand, ticket: Ticket, now: datetime) -> CareOpportunity | None:
    if ticket.customer_id is None or (ticket.reopen_count or 0) < rules_of(brand).reopens:
        return None
    evidence = {"ticket_ids": [ticket.id], "reopens": int(ticket.reopen_count or 0)}
    return raise_opportunity(session, brand, ticket.customer_id, CareReason.REOPENED, evidence, now)


def _detect_reopens(session: Session, brands: dict[int, Brand], now: datetime, result: DetectResult) -> None:
    least = min(rules_of(b).reopens for b in brands.values())
    for ticket in session.scalars(
        select(Ticket)
        .where(
            Ticket.brand_id.in_(brands),
            Ticket.reopen_count >= least,
            Ticket.updated_at >= now - timedelta(days=2),  # the hook caught it at once; this only catches up
            Ticket.customer_id.is_not(None),
        )
        .limit(_SCAN)
    ):
        if ticket.customer_id is not None and (ticket.customer_id, str(CareReason.REOPENED)) not in result.quiet:
            result.add(_reopened(session, brands[ticket.brand_id], ticket, now))


def _status_hook(session: Session, ticket: Ticket, old: str, new: str, now: datetime) -> None:
    """A case reopened: check the reopen rule at once."""
    if new == "open" and old in ("resolved", "closed"):
        brand = session.get(Brand, ticket.brand_id)
        if brand is not None:
            _reopened(session, brand, ticket, now)


# Registered once, at import (the API, the pages and the worker import this module through the registry).
if not any(getattr(h, "__module__", "") == __name__ for h in ticket_service.status_hooks):
    ticket_service.status_hooks.append(_status_hook)


# ---------------------------------------------------------------- the widget's flow steps


def clean_path(path: str) -> str:
    """The page path without query string or fragment (they can carry emails, tokens, search terms)."""
    path = path.split("#", 1)[0].split("?", 1)[0].strip()
    if "://" in path:  # a full URL: keep only its path
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return (path or "/")[:300]


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class Row:
    """An opportunity with the customer's name and language (for the page's suggested message)."""

    opp: CareOpportunity
    customer_name: str
    locale: str | None


def _check_status(status: str | None) -> CareStatus | None:
    if status in (None, ""):
        return None
    if status not in tuple(CareStatus):
        raise InvalidInput.said("err_care_status_choice", choices=", ".join(CareStatus))
    return CareStatus(status)


def queue(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None = None,
    status: str | None = "open",
    limit: int = 100,
    opportunity_id: int | None = None,
) -> list[Row]:
    """Opportunities the principal may see, newest first."""
    stmt = select(CareOpportunity, Customer.name, Customer.locale).join(
        Customer, Customer.id == CareOpportunity.customer_id
    )
    stmt = scope_to_brands(stmt, CareOpportunity.brand_id, principal)
    if brand_id is not None:
        ensure_brand(principal, brand_id, "Brand")
        stmt = stmt.where(CareOpportunity.brand_id == brand_id)
    wanted = _check_status(status)
    if wanted is not None:
        stmt = stmt.where(CareOpportunity.status == wanted)
    if opportunity_id is not None:
        stmt = stmt.where(CareOpportunity.id == opportunity_id)
    stmt = stmt.order_by(CareOpportunity.detected_at.desc(), CareOpportunity.id.desc()).limit(limit)
    return [Row(o, name or "", loc) for o, name, loc in session.execute(stmt)]


def get_opportunity(session: Session, opportunity_id: int, principal: Principal) -> CareOpportunity:
    """One opportunity the principal may see (404 otherwise)."""
    opp = get_in_brand(session, CareOpportunity, opportunity_id, principal, "Care opportunity")
    return opp


def _open(opp: CareOpportunity) -> None:
    if opp.status != CareStatus.OPEN:
        raise Conflict.said("err_care_already_done", status=opp.status)


def _decide(session: Session, opp: CareOpportunity, actor: Principal, status: CareStatus, now: datetime) -> None:
    opp.status, opp.decided_at, opp.decided_by = status, now, actor.agent_id
    session.flush()
    record(
        session,
        actor,
        f"care.{status}",
        target_type="care_opportunity",
        target_id=opp.id,
        brand_id=opp.brand_id,
        details={"reason": str(opp.reason), "customer_id": opp.customer_id, "ticket_id": opp.ticket_id},
    )
    publish(session, "care.decided", {"id": opp.id, "status": str(status)}, (f"brand:{opp.brand_id}",))


def reach_conversation(session: Session, opp: CareOpportunity) -> Conversation | None:
    """The customer's latest conversation in the brand on a channel that can carry a message to them."""
    return session.scalar(
        select(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(
            Conversation.brand_id == opp.brand_id,
            Conversation.customer_id == opp.customer_id,
            Conversation.channel.in_(DELIVERABLE_CHANNELS),
            Inbox.is_active.is_(True),
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )


def reach_out(
    session: Session, opp: CareOpportunity, actor: Principal, command: ReachOut | Mapping[str, Any]
) -> CareOpportunity:
    """Send the agent's message on the customer's own channel (the outbox delivers it after commit).

    Outreach consent is checked first: a customer who withdrew it (or never gave it on an opt-in brand) is not
    contacted (409 ``no_consent``); one without a channel that reaches them neither (409 ``unreachable``).
    """
    cmd = ensure(ReachOut, command)
    _open(opp)
    brand = session.get(Brand, opp.brand_id)
    assert brand is not None  # non-null FK with cascade
    conv = reach_conversation(session, opp)
    blocked = outreach_block(session, opp.customer_id, brand, conv)
    if blocked == "no_consent":
        raise Conflict.said("err_care_no_consent").also(code="no_consent")
    if blocked is not None or conv is None:
        raise Conflict.said("err_care_unreachable").also(code=blocked)
    now = utcnow()
    msg = post_message(session, conv, actor, PostMessage(body=cmd.body))
    msg.meta = {**(msg.meta or {}), "care": {"opportunity_id": opp.id}}
    if conv.status in ("bot", "closed"):  # their answer should reach a person, not the bot or a closed thread
        update_conversation(session, conv, actor, UpdateConversation(status="open"))
    session.add(
        CustomerNotice(
            brand_id=opp.brand_id,
            ticket_id=conv.ticket_id,
            customer_id=opp.customer_id,
            kind="care",
            dedupe_key=f"care:{opp.id}",
            route=str(conv.channel),
            status="queued",
            message_id=msg.id,
            body=cmd.body,
            created_at=now,
        )
    )
    opp.conversation_id, opp.message_id = conv.id, msg.id
    _decide(session, opp, actor, CareStatus.REACHED_OUT, now)
    return opp


def dismiss(
    session: Session, opp: CareOpportunity, actor: Principal, command: DismissOpportunity | Mapping[str, Any]
) -> CareOpportunity:
    """Close without contact, with the agent's reason."""
    cmd = ensure(DismissOpportunity, command)
    _open(opp)
    if not cmd.reason.strip():
        raise InvalidInput.said("err_care_needs_dismiss_reason")
    opp.dismiss_note = cmd.reason.strip()
    _decide(session, opp, actor, CareStatus.DISMISSED, utcnow())
    return opp


def convert(
    session: Session, opp: CareOpportunity, actor: Principal, command: ConvertToCase | Mapping[str, Any]
) -> CareOpportunity:
    """Open a case for the customer (on the evidence's conversation when it has no case yet)."""
    cmd = ensure(ConvertToCase, command)
    _open(opp)
    convs = [c for c in (session.get(Conversation, i) for i in opp.evidence.get("conversation_ids", [])) if c]
    free = next((c for c in convs if c.ticket_id is None and c.brand_id == opp.brand_id), None)
    ticket = ticket_service.create_ticket(
        session,
        brand_id=opp.brand_id,
        subject=cmd.subject,
        actor=actor,
        description=f"care:{opp.reason} #{opp.id}",
        customer_id=opp.customer_id,
        priority=cmd.priority,
        channel=str(free.channel) if free else "api",
        conversation_id=free.id if free else None,
        tags=["care"],
    )
    opp.ticket_id = ticket.id
    _decide(session, opp, actor, CareStatus.CONVERTED, utcnow())
    return opp


# ---------------------------------------------------------------- outcomes


class CareStats(BaseModel):
    """Opportunities detected in a period and what became of them."""

    brand_id: int
    start: datetime
    end: datetime
    detected: int = 0
    by_reason: dict[str, int] = {}
    open: int = 0
    reached_out: int = 0
    converted: int = 0
    dismissed: int = 0
    replied_within_48h: int = 0
    reply_rate: float | None = None  # of those reached out, the share who wrote back within 48 h
    action_rate: float | None = None  # reached out or converted, of those decided


def stats(session: Session, brand_id: int, actor: Principal | None, *, start: datetime, end: datetime) -> CareStats:
    """Figures of opportunities detected in [start, end)."""
    get_brand(session, brand_id, actor)
    if end <= start:
        raise InvalidInput.said("err_care_end_before_start")
    out = CareStats(brand_id=brand_id, start=start, end=end)
    reached: list[tuple[int, datetime]] = []
    by_reason: dict[str, int] = defaultdict(int)
    for reason, status, customer_id, decided_at in session.execute(
        select(
            CareOpportunity.reason, CareOpportunity.status, CareOpportunity.customer_id, CareOpportunity.decided_at
        ).where(
            CareOpportunity.brand_id == brand_id,
            CareOpportunity.detected_at >= start,
            CareOpportunity.detected_at < end,
        )
    ):
        out.detected += 1
        by_reason[str(reason)] += 1
        key = str(status)
        setattr(out, key, getattr(out, key) + 1)
        if status == CareStatus.REACHED_OUT and decided_at is not None:
            reached.append((customer_id, decided_at))
    out.by_reason = dict(by_reason)
    out.replied_within_48h = sum(1 for c, at in reached if _replied(session, brand_id, c, at))
    out.reply_rate = round(out.replied_within_48h / out.reached_out, 4) if out.reached_out else None
    decided = out.reached_out + out.converted + out.dismissed
    out.action_rate = round((out.reached_out + out.converted) / decided, 4) if decided else None
    return out


def _replied(session: Session, brand_id: int, customer_id: int, at: datetime) -> bool:
    return (
        session.scalar(
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.brand_id == brand_id,
                Conversation.customer_id == customer_id,
                Message.sender_type == "customer",
                Message.created_at > at,
                Message.created_at <= at + REPLY_WINDOW,
            )
            .limit(1)
        )
        is not None
    )
