"""Ticket lookups for the API: filtered keyset listing, full-text search condition, classification feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, or_, select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.core import like
from kefu.core.access import scope_to_brands
from kefu.core.errors import InvalidInput
from kefu.core.pagination import keyset_page
from kefu.tickets import search
from kefu.tickets.models import (
    ClassificationFeedback,
    Ticket,
)

SORTS = ("updated_at", "created_at")


# --------------------------------------------------------------------------- feedback, listing


def list_feedback(
    session: Session, principal: Principal, *, brand_id: int | None, limit: int, cursor: str | None
) -> tuple[list[ClassificationFeedback], str | None]:
    """Classification corrections, newest first (training data)."""
    stmt = select(ClassificationFeedback)
    stmt = scope_to_brands(stmt, ClassificationFeedback.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(ClassificationFeedback.brand_id == brand_id)
    return keyset_page(session, stmt, ClassificationFeedback.id, ClassificationFeedback.id, limit=limit, cursor=cursor)


def search_condition(session: Session, q: str) -> ColumnElement[bool]:
    """WHERE condition for a ticket search: exact ticket number, or every query token in the ticket's document."""
    number = Ticket.number == q.strip().upper()
    q_tokens = search.query_tokens(q)
    if not q_tokens:
        return number
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        ids = search.prefetch_rare(session.connection(), q_tokens)
        if ids is not None:
            return or_(number, Ticket.id.in_(ids)) if ids else number
    return or_(number, search.match(Ticket.search_vector, q_tokens, dialect))


def matching_ticket_ids(session: Session, q: str) -> Select[Any]:
    """Subquery of the ids of tickets a search matches (callers scope it by brand through what they join)."""
    return select(Ticket.id).where(search_condition(session, q))


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
    """Tickets matching filters, newest first by `sort`, keyset-paginated.

    `q` matches the ticket number exactly, or (kefu.tickets.search) words in the subject, description or any message
    of the ticket's conversations: Traditional and Simplified Chinese alike, English case-insensitively.
    """
    if sort not in SORTS:
        raise InvalidInput.said("err_tickets_sort_choice", choices=", ".join(SORTS))
    stmt = select(Ticket)
    stmt = scope_to_brands(stmt, Ticket.brand_id, principal)
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
        stmt = stmt.where(like.pattern(cast(Ticket.tags, String), '%"', tag, '"%'))
    if q and q.strip():
        stmt = stmt.where(search_condition(session, q))
    if created_after is not None:
        stmt = stmt.where(Ticket.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Ticket.created_at < created_before)
    sort_col = Ticket.updated_at if sort == "updated_at" else Ticket.created_at
    return keyset_page(session, stmt, sort_col, Ticket.id, limit=limit, cursor=cursor)
