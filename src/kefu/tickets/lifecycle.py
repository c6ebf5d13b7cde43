"""Ticket lifecycle: status transitions, updates, comments, customer confirmation and auto-close."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import TeamMember
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound, Term
from kefu.core.events import publish
from kefu.routing import service as routing
from kefu.sla import service as sla
from kefu.tickets.commands import AssignTicket, ChangeTicketStatus, UpdateTicket, build, changes_of
from kefu.tickets.creation import _check_refs, announce_comment, classification_text
from kefu.tickets.models import (
    TICKET_STATUSES,
    ClassificationFeedback,
    Ticket,
    TicketActivity,
    TicketStatus,
)
from kefu.tickets.taxonomy import _check_category, validate_custom_fields
from kefu.tickets.timeline import add_activity, ticket_event
from kefu.tickets.timeline import ticket_topics as _topics

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "on_hold", "resolved", "closed"}),
    "open": frozenset({"pending", "on_hold", "resolved", "closed"}),
    "pending": frozenset({"open", "on_hold", "resolved", "closed"}),
    "on_hold": frozenset({"open", "pending", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),  # open = reopen
    "closed": frozenset({"open"}),  # reopen
}
DEFAULT_AUTO_CLOSE_DAYS = 7


# --------------------------------------------------------------------------- lifecycle


def change_status(ticket: Ticket, new: str, now: datetime) -> None:
    """Apply a lifecycle transition, stamping resolved/closed times and counting reopens."""
    if new not in TICKET_STATUSES:
        raise InvalidInput.said("err_tickets_unknown_status", new=new)
    new = TicketStatus(new)
    if new == ticket.status:
        return
    if new not in TRANSITIONS[ticket.status]:
        # The statuses by their names on the case page (t_<status>), not the API's values.
        current = Term(ticket.status, f"t_{ticket.status}")
        raise Conflict.said("err_tickets_bad_transition", current=current, new=Term(new, f"t_{new}"))
    if new == "resolved":
        ticket.resolved_at = now
    elif new == "closed":
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif ticket.status in ("resolved", "closed"):
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.status = new


# Called after every status change with (session, ticket, old, new, now): proactive customer notices register here.
status_hooks: list[Callable[[Session, Ticket, str, str, datetime], None]] = []


def _set_status(session: Session, ticket: Ticket, new: str, now: datetime) -> str:
    old = ticket.status
    if ticket.merged_into_id is not None and new not in ("closed",):
        raise Conflict.said("err_tickets_merged_elsewhere", number=ticket.number)
    change_status(ticket, new, now)
    if old != ticket.status:
        sla.on_status_change(session, ticket, old, ticket.status, now)
        add_activity(session, ticket, "status", data={"from": old, "to": ticket.status}, at=now)
        for hook in status_hooks:
            hook(session, ticket, old, ticket.status, now)
    return old


def _record_feedback(session: Session, ticket: Ticket, new_category: str, actor: Principal | None) -> None:
    session.add(
        ClassificationFeedback(
            brand_id=ticket.brand_id,
            ticket_id=ticket.id,
            text=classification_text(session, ticket),
            predicted=ticket.category,
            confidence=ticket.category_confidence,
            corrected=new_category,
            agent_id=actor.agent_id if actor else None,
        )
    )


def assign_ticket(session: Session, ticket: Ticket, actor: Principal | None, cmd: AssignTicket) -> Ticket:
    """Hand the ticket to an agent and/or team (membership, routing and SLA follow as for any update)."""
    return update_ticket(session, ticket, actor, changes_of(cmd))


def change_ticket_status(session: Session, ticket: Ticket, actor: Principal | None, cmd: ChangeTicketStatus) -> Ticket:
    """Move the ticket through its lifecycle (and optionally set its priority in the same change)."""
    return update_ticket(session, ticket, actor, changes_of(cmd))


def update_ticket(
    session: Session, ticket: Ticket, actor: Principal | None, command: UpdateTicket | Mapping[str, Any]
) -> Ticket:
    """Apply a partial change (validated transitions; SLA, routing and feedback follow the change)."""
    cmd = command if isinstance(command, UpdateTicket) else build(UpdateTicket, command)
    changes = changes_of(cmd)
    _check_refs(session, ticket.brand_id, changes.get("team_id"), changes.get("assignee_id"))
    now = utcnow()
    before = {k: getattr(ticket, k) for k in changes}
    old_status, old_team, old_assignee = ticket.status, ticket.team_id, ticket.assignee_id
    if "status" in changes and changes["status"] is not None:
        old = _set_status(session, ticket, changes.pop("status"), now)
        if old != ticket.status:
            publish(session, "ticket.status_changed", {**ticket_event(ticket), "from": old}, _topics(ticket))
    else:
        changes.pop("status", None)
    if changes.get("category") is not None and changes["category"] != ticket.category:
        _check_category(session, ticket.brand_id, changes["category"])
        if ticket.category_source == "auto":
            _record_feedback(session, ticket, changes["category"], actor)
        ticket.category_source, ticket.category_confidence = "manual", None
    if changes.get("custom_fields") is not None:
        changes["custom_fields"] = validate_custom_fields(
            session, ticket.brand_id, changes["custom_fields"], ticket.custom_fields
        )
    if "tags" in changes and changes["tags"] is not None:
        changes["tags"] = sorted(set(changes["tags"]))
    for key, value in changes.items():
        if key in ("subject", "priority", "tags", "custom_fields", "category") and value is None:
            continue
        setattr(ticket, key, value)
    team_changed = ticket.team_id != old_team
    if team_changed and "assignee_id" not in changes and ticket.assignee_id is not None:
        # The old assignee keeps the ticket only if they belong to the new team.
        member = None
        if ticket.team_id is not None:
            member = session.get(TeamMember, (ticket.team_id, ticket.assignee_id))
        if member is None:
            ticket.assignee_id = None
    if changes.get("assignee_id") and ticket.status == TicketStatus.NEW:
        ticket.status = TicketStatus.OPEN
    ticket.updated_at = now
    session.flush()
    if {"category", "priority", "channel", "custom_fields", "team_id"} & set(changes):
        # Attributes policies match on changed: re-match (a different policy restarts the targets).
        sla.start_ticket_sla(session, ticket, now, set_priority=False, set_team=False)
    else:
        sla.refresh_ticket_sla(session, ticket, now)
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
    if team_changed and ticket.assignee_id is None:
        routing.auto_assign(session, ticket, actor)
    active = routing.ACTIVE_LOAD_STATUSES
    if (
        old_assignee is not None
        and old_status in active
        and (ticket.status not in active or ticket.assignee_id != old_assignee)
    ):
        routing.request_dispatch(session, old_team)
    return ticket


def add_comment(
    session: Session, ticket: Ticket, actor: Principal | None, body: str, *, public: bool
) -> TicketActivity:
    """Post a public update (visible in the customer's progress view) or an internal note."""
    now = utcnow()
    entry = add_activity(
        session, ticket, "comment", body=body, public=public, agent_id=actor.agent_id if actor else None, at=now
    )
    if public and ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    session.flush()
    sla.refresh_ticket_sla(session, ticket, now)
    announce_comment(session, ticket, actor, entry)
    return entry


def list_activities(
    session: Session, ticket: Ticket, *, public_only: bool = False, after_id: int | None = None, limit: int = 200
) -> list[TicketActivity]:
    """Timeline entries oldest first."""
    stmt = select(TicketActivity).where(TicketActivity.ticket_id == ticket.id)
    if public_only:
        stmt = stmt.where(TicketActivity.public.is_(True))
    if after_id is not None:
        stmt = stmt.where(TicketActivity.id > after_id)
    return list(session.scalars(stmt.order_by(TicketActivity.id).limit(limit)))


def get_activity(session: Session, ticket: Ticket, activity_id: int) -> TicketActivity:
    """One timeline entry of `ticket` (404 when it belongs to another ticket or is gone)."""
    row = session.scalars(
        select(TicketActivity).where(TicketActivity.id == activity_id, TicketActivity.ticket_id == ticket.id)
    ).first()
    if row is None:
        raise NotFound.said("err_tickets_activity_not_found")
    return row


def confirm_resolution(session: Session, ticket: Ticket, actor: Principal | None, *, by: str = "customer") -> Ticket:
    """Close a resolved ticket on the customer's confirmation."""
    if ticket.status != "resolved":
        raise Conflict.said("err_tickets_confirm_only_resolved")
    now = utcnow()
    _set_status(session, ticket, "closed", now)
    add_activity(session, ticket, "confirm", data={"by": by}, at=now)
    ticket.updated_at = now
    session.flush()
    sla.refresh_ticket_sla(session, ticket, now)
    record(session, actor, "ticket.confirm", target_type="ticket", target_id=ticket.id, brand_id=ticket.brand_id)
    publish(session, "ticket.status_changed", {**ticket_event(ticket), "from": "resolved"}, _topics(ticket))
    return ticket


def auto_close_resolved(session: Session, now: datetime | None = None, *, limit: int = 500) -> int:
    """Close tickets resolved more than the brand's `auto_close_days` (default 7) ago; returns how many."""
    now = now or utcnow()
    closed = 0
    for brand in session.scalars(select(Brand).order_by(Brand.id)):
        days = int(brand.settings.get("auto_close_days", DEFAULT_AUTO_CLOSE_DAYS))
        due = list(
            session.scalars(
                select(Ticket)
                .where(
                    Ticket.status == "resolved",
                    Ticket.resolved_at < now - timedelta(days=days),
                    Ticket.brand_id == brand.id,
                )
                .order_by(Ticket.resolved_at)
                .limit(limit - closed)
            )
        )
        for ticket in due:
            _set_status(session, ticket, "closed", now)
            add_activity(session, ticket, "auto_close", data={"after_days": days}, at=now)
            ticket.updated_at = now
            session.flush()
            sla.refresh_ticket_sla(session, ticket, now)
            record(
                session,
                None,
                "ticket.auto_close",
                target_type="ticket",
                target_id=ticket.id,
                brand_id=ticket.brand_id,
            )
            publish(session, "ticket.status_changed", {**ticket_event(ticket), "from": "resolved"}, _topics(ticket))
            closed += 1
        if closed >= limit:
            break
    return closed
