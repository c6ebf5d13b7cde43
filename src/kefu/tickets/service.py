"""Tickets: numbering, lifecycle transitions, assignment and listing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Agent, Team
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.conversations.models import Conversation
from kefu.core.access import ensure_brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.tickets.models import TICKET_STATUSES, Ticket, TicketCounter

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "on_hold", "resolved", "closed"}),
    "open": frozenset({"pending", "on_hold", "resolved", "closed"}),
    "pending": frozenset({"open", "on_hold", "resolved", "closed"}),
    "on_hold": frozenset({"open", "pending", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),  # open = reopen
    "closed": frozenset({"open"}),  # reopen
}
SORTS = ("updated_at", "created_at")


def next_number(session: Session, brand: Brand) -> tuple[int, str]:
    """Allocate the next per-brand ticket number atomically (row lock on the counter)."""
    seq = session.execute(
        update(TicketCounter)
        .where(TicketCounter.brand_id == brand.id)
        .values(value=TicketCounter.value + 1)
        .returning(TicketCounter.value)
    ).scalar_one_or_none()
    if seq is None:
        session.add(TicketCounter(brand_id=brand.id, value=1))
        session.flush()
        seq = 1
    return seq, f"{brand.ticket_prefix}-{seq:06d}"


def _topics(t: Ticket) -> tuple[str, ...]:
    return (f"brand:{t.brand_id}", f"ticket:{t.id}")


def ticket_event(t: Ticket) -> dict[str, Any]:
    """Compact event payload for realtime clients."""
    return {
        "id": t.id,
        "number": t.number,
        "status": t.status,
        "priority": t.priority,
        "assignee_id": t.assignee_id,
        "team_id": t.team_id,
        "subject": t.subject,
    }


def _check_refs(session: Session, brand_id: int, team_id: int | None, assignee_id: int | None) -> None:
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or team.brand_id != brand_id:
            raise InvalidInput(f"Team {team_id} does not exist in this brand.")
    if assignee_id is not None:
        agent = session.get(Agent, assignee_id)
        if agent is None or not agent.is_active:
            raise InvalidInput(f"Agent {assignee_id} does not exist or is inactive.")


def create_ticket(
    session: Session,
    *,
    brand_id: int,
    subject: str,
    actor: Principal | None,
    description: str = "",
    customer_id: int | None = None,
    priority: str = "normal",
    category: str | None = None,
    channel: str = "api",
    team_id: int | None = None,
    assignee_id: int | None = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    conversation_id: int | None = None,
) -> Ticket:
    """Open a ticket with the next human-readable number."""
    brand = get_brand(session, brand_id, actor)
    organization_id = None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.brand_id != brand_id:
            raise InvalidInput(f"Customer {customer_id} does not exist in this brand.")
        organization_id = customer.organization_id
    _check_refs(session, brand_id, team_id, assignee_id)
    conv = None
    if conversation_id is not None:
        conv = session.get(Conversation, conversation_id)
        if conv is None or conv.brand_id != brand_id:
            raise InvalidInput(f"Conversation {conversation_id} does not exist in this brand.")
        if conv.ticket_id is not None:
            raise Conflict(f"Conversation {conversation_id} is already linked to a ticket.")
    _, number = next_number(session, brand)
    now = utcnow()
    ticket = Ticket(
        brand_id=brand_id,
        number=number,
        subject=subject,
        description=description,
        status="open" if assignee_id else "new",
        priority=priority,
        category=category,
        channel=channel,
        customer_id=customer_id,
        organization_id=organization_id,
        team_id=team_id,
        assignee_id=assignee_id,
        tags=sorted(set(tags or [])),
        custom_fields=custom_fields or {},
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    if conv is not None:
        conv.ticket_id = ticket.id
        session.flush()
    record(
        session,
        actor,
        "ticket.create",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=brand_id,
        details={"number": number},
    )
    publish(session, "ticket.created", ticket_event(ticket), _topics(ticket))
    return ticket


def get_ticket(session: Session, ticket_id: int, principal: Principal | None) -> Ticket:
    """Ticket by id (404 if missing or in another brand)."""
    t = session.get(Ticket, ticket_id)
    if t is None:
        raise NotFound(f"Ticket {ticket_id} not found.")
    ensure_brand(principal, t.brand_id, "Ticket")
    return t


def get_ticket_by_number(session: Session, number: str, principal: Principal | None) -> Ticket:
    """Ticket by its human-readable number."""
    t = session.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
    if t is None:
        raise NotFound(f"Ticket {number} not found.")
    ensure_brand(principal, t.brand_id, "Ticket")
    return t


def change_status(ticket: Ticket, new: str, now: datetime) -> None:
    """Apply a lifecycle transition, stamping resolved/closed times."""
    if new not in TICKET_STATUSES:
        raise InvalidInput(f"Unknown status {new!r}.")
    if new == ticket.status:
        return
    if new not in TRANSITIONS[ticket.status]:
        raise Conflict(f"Cannot move a ticket from {ticket.status} to {new}.")
    if new == "resolved":
        ticket.resolved_at = now
    elif new == "closed":
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif ticket.status in ("resolved", "closed"):
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.status = new


def update_ticket(session: Session, ticket: Ticket, actor: Principal | None, changes: dict[str, Any]) -> Ticket:
    """Apply a partial change (status transitions are validated)."""
    _check_refs(session, ticket.brand_id, changes.get("team_id"), changes.get("assignee_id"))
    now = utcnow()
    before = {k: getattr(ticket, k) for k in changes}
    if "status" in changes and changes["status"] is not None:
        old = ticket.status
        change_status(ticket, changes.pop("status"), now)
        if old != ticket.status:
            publish(session, "ticket.status_changed", {**ticket_event(ticket), "from": old}, _topics(ticket))
    if "tags" in changes and changes["tags"] is not None:
        changes["tags"] = sorted(set(changes["tags"]))
    for key, value in changes.items():
        if key in ("subject", "priority", "tags", "custom_fields") and value is None:
            continue
        setattr(ticket, key, value)
    if changes.get("assignee_id") and ticket.status == "new":
        ticket.status = "open"
    ticket.updated_at = now
    session.flush()
    diff = {k: [str(before[k]), str(getattr(ticket, k))] for k in before if before[k] != getattr(ticket, k)}
    record(
        session,
        actor,
        "ticket.update",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details=diff,
    )
    publish(session, "ticket.updated", ticket_event(ticket), _topics(ticket))
    return ticket


def list_tickets(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None = None,
    status: list[str] | None = None,
    priority: list[str] | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    customer_id: int | None = None,
    organization_id: int | None = None,
    category: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: str = "updated_at",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Ticket], str | None]:
    """Tickets matching filters, newest first by `sort`, keyset-paginated."""
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}.")
    stmt = select(Ticket)
    if principal.brand_ids is not None:
        stmt = stmt.where(Ticket.brand_id.in_(principal.brand_ids))
    if brand_id is not None:
        stmt = stmt.where(Ticket.brand_id == brand_id)
    if status:
        stmt = stmt.where(Ticket.status.in_(status))
    if priority:
        stmt = stmt.where(Ticket.priority.in_(priority))
    if unassigned:
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    if team_id is not None:
        stmt = stmt.where(Ticket.team_id == team_id)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if organization_id is not None:
        stmt = stmt.where(Ticket.organization_id == organization_id)
    if category:
        stmt = stmt.where(Ticket.category == category)
    if tag:
        # JSON containment differs per backend; a quoted LIKE on the serialized list works on both.
        from sqlalchemy import String, cast

        stmt = stmt.where(cast(Ticket.tags, String).like(f'%"{tag}"%'))
    if q:
        stmt = stmt.where(or_(Ticket.subject.like(f"%{q}%"), Ticket.number == q.strip().upper()))
    if created_after is not None:
        stmt = stmt.where(Ticket.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Ticket.created_at < created_before)
    sort_col = Ticket.updated_at if sort == "updated_at" else Ticket.created_at
    return keyset_page(session, stmt, sort_col, Ticket.id, limit=limit, cursor=cursor)
