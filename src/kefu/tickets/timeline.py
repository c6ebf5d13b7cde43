"""Ticket event payloads, topics and timeline entries shared by tickets, routing, SLA and complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kefu.core.db import new_row, utcnow
from kefu.tickets.models import Ticket, TicketActivity


def ticket_topics(t: Ticket) -> tuple[str, ...]:
    """Realtime topics interested in a ticket."""
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


def add_activity(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    body: str = "",
    public: bool = False,
    agent_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TicketActivity:
    """Append a timeline entry; a public one is what the customer sees as the latest update."""
    now = at or utcnow()
    values = {
        "brand_id": ticket.brand_id,
        "ticket_id": ticket.id,
        "kind": kind,
        "public": public,
        "body": body,
        "agent_id": agent_id,
        "data": data or {},
        "created_at": now,
    }
    entry = new_row(TicketActivity, values)  # the constructor's result without its per-attribute events
    session.add(entry)
    if public:
        ticket.last_public_update_at = now
    return entry
