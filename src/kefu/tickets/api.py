"""Ticket endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.core.pagination import Page
from kefu.tickets import service
from kefu.tickets.schemas import TicketCreate, TicketOut, TicketUpdate

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]


@router.get("/tickets", response_model=Page[TicketOut])
def list_tickets(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    customer_id: int | None = None,
    organization_id: int | None = None,
    category: str | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: Annotated[str, Query(pattern="^(updated_at|created_at)$")] = "updated_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[TicketOut]:
    """Tickets, newest first, with filters and keyset pagination."""
    rows, nxt = service.list_tickets(
        db,
        principal,
        brand_id=brand_id,
        status=status,
        priority=priority,
        assignee_id=assignee_id,
        unassigned=unassigned,
        team_id=team_id,
        customer_id=customer_id,
        organization_id=organization_id,
        category=category,
        tag=tag,
        q=q,
        created_after=created_after,
        created_before=created_before,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[TicketOut.model_validate(t) for t in rows], next_cursor=nxt)


@router.post("/tickets", response_model=TicketOut, status_code=201)
def create_ticket(body: TicketCreate, db: DB, principal: Write) -> TicketOut:
    """Open a ticket."""
    t = service.create_ticket(db, actor=principal, **body.model_dump())
    return TicketOut.model_validate(t)


@router.get("/tickets/by-number/{number}", response_model=TicketOut)
def get_by_number(number: str, db: DB, principal: Read) -> TicketOut:
    """A ticket by its number, e.g. KF-000123."""
    return TicketOut.model_validate(service.get_ticket_by_number(db, number, principal))


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: int, db: DB, principal: Read) -> TicketOut:
    """One ticket."""
    return TicketOut.model_validate(service.get_ticket(db, ticket_id, principal))


@router.patch("/tickets/{ticket_id}", response_model=TicketOut)
def update_ticket(ticket_id: int, body: TicketUpdate, db: DB, principal: Write) -> TicketOut:
    """Change a ticket (status, priority, assignment, tags, fields)."""
    t = service.get_ticket(db, ticket_id, principal)
    return TicketOut.model_validate(service.update_ticket(db, t, principal, body.model_dump(exclude_unset=True)))
