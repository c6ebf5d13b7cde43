"""Outage notices to the customers an incident affects, on their own channel plus SMS and email (seed 003
「個性化服務提醒（短信/APP雙重通知）」, 004 主動關懷).

An operator picks the affected customers by what their cases say — category, tag, the time window they were opened
in, open cases only — previews how many match, and sends. Each customer is told once per broadcast on each channel
(dedupe keys ``outage:<broadcast>:<customer>[:<channel>]``): their latest matching case's own channel (LINE push,
Messenger, email thread, web chat; SMS for phone cases; the portal otherwise) and the extra channels chosen (default
the brand policy ``settings["notices"]["also"]["outage"]``, itself defaulting to SMS and email). An outage notice is
not about a case the customer asked about, so it is outreach: customers who withdrew consent get nothing (recorded
as skipped). Every delivery has its own row and state (queued → sent / failed, posted, skipped with the reason).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.channels import outbox
from kefu.channels.models import OutboxMessage
from kefu.channels.types import FailureReason
from kefu.conversations.models import Conversation
from kefu.core.access import ensure_brand, get_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.customers.models import Customer
from kefu.notices.models import CustomerNotice, NoticeBroadcast
from kefu.notices.service import EXTRA_CHANNELS, SENDING, also_channels, send
from kefu.surveys.consent import consents_to_outreach
from kefu.tickets.models import Ticket

# Why: one broadcast is one transaction; past this many customers an operator should narrow the audience.
MAX_RECIPIENTS = 5000
_SCAN = 50_000


@dataclass(frozen=True)
class Audience:
    """Which customers an outage affects: cases by category, tag, opened in [since, until), open only."""

    category: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    open_only: bool = False

    def check(self) -> None:
        """At least one criterion, and a window that runs forwards."""
        if not (self.category or self.tag or self.since or self.until):
            raise InvalidInput.said("err_notices_needs_audience")
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput.said("err_notices_window_order")

    def as_json(self) -> dict[str, object]:
        """Stored with the broadcast."""
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        out["until"] = self.until.isoformat() if self.until else None
        return out


def affected(session: Session, brand_id: int, audience: Audience) -> list[Ticket]:
    """The latest matching case of each affected customer (newest first), at most MAX_RECIPIENTS + 1."""
    return [cases[0] for cases in _affected_cases(session, brand_id, audience)]


def _affected_cases(session: Session, brand_id: int, audience: Audience) -> list[list[Ticket]]:
    """Each affected customer's matching cases, newest first (customers in order of their latest case)."""
    audience.check()
    stmt = select(Ticket).where(
        Ticket.brand_id == brand_id, Ticket.customer_id.is_not(None), Ticket.merged_into_id.is_(None)
    )
    if audience.category:
        stmt = stmt.where(Ticket.category == audience.category)
    if audience.since:
        stmt = stmt.where(Ticket.created_at >= audience.since)
    if audience.until:
        stmt = stmt.where(Ticket.created_at < audience.until)
    if audience.open_only:
        stmt = stmt.where(Ticket.status.not_in(("resolved", "closed")))
    groups: dict[int, list[Ticket]] = {}
    for ticket in session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(_SCAN)):
        if audience.tag and audience.tag not in (ticket.tags or []):
            continue  # tags are a JSON list: filtered here, portably across databases
        if ticket.customer_id is None:
            continue
        if ticket.customer_id not in groups and len(groups) > MAX_RECIPIENTS:
            break
        groups.setdefault(ticket.customer_id, []).append(ticket)
    return list(groups.values())


def _own_channel_case(session: Session, cases: list[Ticket]) -> Ticket:
    """The customer's newest matching case that has a conversation able to send (else the newest case)."""
    ids = [t.id for t in cases]
    reachable = set(
        session.scalars(
            select(Conversation.ticket_id).where(Conversation.ticket_id.in_(ids), Conversation.channel.in_(SENDING))
        )
    )
    return next((t for t in cases if t.id in reachable), cases[0])


def _brand(session: Session, brand_id: int, actor: Principal | None) -> Brand:
    return get_brand(session, brand_id, actor)


def preview(session: Session, brand_id: int, audience: Audience, actor: Principal | None) -> list[Ticket]:
    """The affected customers' cases, without sending anything."""
    _brand(session, brand_id, actor)
    return affected(session, brand_id, audience)


def broadcast_outage(
    session: Session,
    brand_id: int,
    actor: Principal | None,
    *,
    title: str,
    body: str,
    audience: Audience,
    channels: list[str] | None = None,
    now: datetime | None = None,
) -> NoticeBroadcast:
    """Tell every affected customer once per channel; the caller commits (the outbox sends after commit)."""
    brand = _brand(session, brand_id, actor)
    title, body = title.strip()[:200], body.strip()[:2000]
    if not title or not body:
        raise InvalidInput.said("err_notices_outage_needs_text")
    extra = also_channels(brand, "outage") if channels is None else channels
    if set(extra) - set(EXTRA_CHANNELS):
        raise InvalidInput.said("err_notices_extra_channels", choices=list(EXTRA_CHANNELS))
    groups = _affected_cases(session, brand_id, audience)
    tickets = [_own_channel_case(session, cases) for cases in groups[: MAX_RECIPIENTS + 1]]
    if not tickets:
        raise InvalidInput.said("err_notices_no_recipient")
    if len(tickets) > MAX_RECIPIENTS:
        raise InvalidInput.said("err_notices_too_many_recipients", max_recipients=MAX_RECIPIENTS)
    now = now or utcnow()
    row = NoticeBroadcast(
        brand_id=brand_id,
        kind="outage",
        title=title,
        body=body,
        audience=audience.as_json(),
        channels=list(extra),
        recipients=len(tickets),
        created_by=actor.agent_id if actor else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    text = f"{title}\n{body}"
    for ticket in tickets:
        assert ticket.customer_id is not None
        key = f"outage:{row.id}:{ticket.customer_id}"
        if not consents_to_outreach(session, ticket.customer_id, brand):
            session.add(
                CustomerNotice(
                    brand_id=brand_id,
                    ticket_id=ticket.id,
                    customer_id=ticket.customer_id,
                    broadcast_id=row.id,
                    kind="outage",
                    dedupe_key=key,
                    route="none",
                    status="skipped",
                    reason="no consent to be contacted",
                    body=text,
                    created_at=now,
                )
            )
            continue
        send(session, ticket, "outage", key, text, extra=extra, broadcast=row, subject=title, now=now)
    session.flush()
    record(
        session,
        actor,
        "notices.outage",
        target_type="notice_broadcast",
        target_id=row.id,
        brand_id=brand_id,
        details={"recipients": len(tickets), "channels": list(extra), "audience": audience.as_json()},
    )
    return row


@dataclass
class Delivery(FailureReason):
    """One notice row with its delivery state (from the outbox row that carries it); its failure reads as the
    conversation timeline's does."""

    notice: CustomerNotice
    state: str  # queued | sent | delivered | read | failed | unknown | posted | skipped
    error: str | None
    customer_name: str | None
    ticket_number: str | None


def deliveries(session: Session, notices: list[CustomerNotice]) -> list[Delivery]:
    """Delivery state of each notice: its own outbox row, the outbox row of its message, or its own status."""
    direct = {n.outbox_id for n in notices if n.outbox_id is not None}
    rows = (
        {o.id: o for o in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(direct)))} if direct else {}
    )
    via_message = outbox.deliveries(session, [n.message_id for n in notices if n.message_id is not None])
    customer_ids = {n.customer_id for n in notices if n.customer_id is not None}
    names = (
        {
            i: name
            for i, name in session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)))
        }
        if customer_ids
        else {}
    )
    ticket_ids = {n.ticket_id for n in notices if n.ticket_id is not None}
    numbers = (
        {i: num for i, num in session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids)))}
        if ticket_ids
        else {}
    )
    out = []
    for n in notices:
        state, error = n.status, n.reason
        if n.outbox_id is not None and n.outbox_id in rows:
            o = rows[n.outbox_id]
            state, error = outbox.DELIVERY_STATE.get(o.status, "unknown"), o.last_error
        elif n.message_id is not None and n.message_id in via_message:
            d = via_message[n.message_id]
            state, error = d.state, d.error
        out.append(
            Delivery(
                n,
                state,
                error,
                names.get(n.customer_id) if n.customer_id else None,
                numbers.get(n.ticket_id) if n.ticket_id else None,
            )
        )
    return out


def get_broadcast(session: Session, broadcast_id: int, actor: Principal | None) -> NoticeBroadcast:
    """One broadcast of the actor's brands (404 across brands)."""
    row = get_in_brand(session, NoticeBroadcast, broadcast_id, actor, "Notice broadcast")
    return row


def broadcast_deliveries(session: Session, row: NoticeBroadcast) -> list[Delivery]:
    """Every delivery of a broadcast, by customer then channel."""
    notices = list(
        session.scalars(
            select(CustomerNotice)
            .where(CustomerNotice.broadcast_id == row.id)
            .order_by(CustomerNotice.customer_id, CustomerNotice.id)
        )
    )
    return deliveries(session, notices)


def ticket_deliveries(session: Session, ticket_id: int) -> list[Delivery]:
    """Every notice about a case, oldest first, with its delivery state."""
    notices = list(
        session.scalars(select(CustomerNotice).where(CustomerNotice.ticket_id == ticket_id).order_by(CustomerNotice.id))
    )
    return deliveries(session, notices)


def list_broadcasts(
    session: Session, actor: Principal | None, brand_id: int | None = None, limit: int = 50
) -> list[tuple[NoticeBroadcast, Counter[str]]]:
    """Recent broadcasts of the actor's brands with their deliveries counted by state."""
    stmt = select(NoticeBroadcast).order_by(NoticeBroadcast.id.desc()).limit(limit)
    if brand_id is not None:
        ensure_brand(actor, brand_id, "Brand")
        stmt = stmt.where(NoticeBroadcast.brand_id == brand_id)
    else:
        stmt = scope_to_brands(stmt, NoticeBroadcast.brand_id, actor)
    out = []
    for row in session.scalars(stmt):
        out.append((row, Counter(d.state for d in broadcast_deliveries(session, row))))
    return out
