"""Saved views: create, list (own + shared in the agent's brands) and delete (owner or supervisor)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.core.access import ensure_brand, scope_to_brands
from kefu.core.errors import InvalidInput, NotFound
from kefu.tickets.listing import TicketQuery
from kefu.workspace.models import SavedView

MAX_VIEWS = 50


def list_views(session: Session, principal: Principal) -> list[SavedView]:
    """The agent's own views and views shared in brands the agent can see (an own shared view of a brand the agent
    left goes with the brand; personal views have no brand)."""
    own_or_shared = select(SavedView).where(or_(SavedView.agent_id == principal.agent_id, SavedView.shared.is_(True)))
    stmt = scope_to_brands(own_or_shared, SavedView.brand_id, principal, unbranded=True)
    return list(session.scalars(stmt.order_by(SavedView.shared, SavedView.name).limit(200)))


def create_view(
    session: Session, principal: Principal, *, name: str, query_string: str, shared: bool, brand_id: int | None
) -> SavedView:
    """Save a filter set; the query string must be a valid ticket-list query (the cursor is dropped)."""
    name = name.strip()
    if not name:
        raise InvalidInput.said("err_workspace_view_needs_name")
    pairs = [(k, v) for k, v in parse_qsl(query_string.lstrip("?")) if k not in ("cursor", "lang")]
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("status", "priority"):
            data.setdefault(key, []).append(value)
        else:
            data[key] = value
    try:
        TicketQuery.model_validate(data)
    except ValueError as exc:
        raise InvalidInput.said("err_workspace_view_bad_filters") from exc
    if shared:
        if brand_id is None:
            raise InvalidInput.said("err_workspace_shared_view_brand")
        ensure_brand(principal, brand_id, "Brand")
    own = session.scalars(select(SavedView.id).where(SavedView.agent_id == principal.agent_id)).all()
    if len(own) >= MAX_VIEWS:
        raise InvalidInput.said("err_workspace_too_many_views", max_views=MAX_VIEWS)
    view = SavedView(
        agent_id=principal.agent_id,
        brand_id=brand_id if shared else None,
        name=name[:100],
        shared=shared,
        params=[list(p) for p in pairs],
    )
    session.add(view)
    session.flush()
    record(
        session, principal, "ticket_view.create", target_type="saved_view", target_id=view.id, brand_id=view.brand_id
    )
    return view


def delete_view(session: Session, principal: Principal, view_id: int) -> None:
    """Delete a view: its owner, or a supervisor for shared views of their brands."""
    view = session.get(SavedView, view_id)
    if view is None:
        raise NotFound.said("err_workspace_view_not_found")
    if view.agent_id != principal.agent_id:
        if not (view.shared and principal.can("teams:manage")):
            raise NotFound.said("err_workspace_view_not_found")
        ensure_brand(principal, view.brand_id or 0, "View")
    record(
        session, principal, "ticket_view.delete", target_type="saved_view", target_id=view.id, brand_id=view.brand_id
    )
    session.delete(view)
    session.flush()
