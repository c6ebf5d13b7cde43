"""Multi-action macros: one click sets status, priority, tags, team and assignee of a case and drafts a reply.

Any agent who may change tickets manages the brand's macros (forms in the console); applying one goes through
``tickets.service.update_ticket`` so transitions, SLA clocks, routing events and the ticket's own audit entries
apply exactly as for a manual change, plus one ``macro.apply`` audit entry naming the macro.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth import service as auth_service
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.access import ensure_brand, get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.errors import Conflict, Forbidden, InvalidInput
from kefu.macros.models import TicketMacro
from kefu.tickets import service as ticket_service
from kefu.tickets.models import PRIORITIES, TICKET_STATUSES, Ticket

MAX_TAGS = 10
MAX_MACROS = 200


@dataclass
class MacroFields:
    """What a macro form carries (already parsed; None = leave unchanged)."""

    brand_id: int
    name: str
    status: str | None = None
    priority: str | None = None
    add_tags: tuple[str, ...] = ()
    team_id: int | None = None
    assignee_id: int | None = None
    reply: str = ""


def _need_write(principal: Principal) -> None:
    if not principal.can("tickets:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:write")


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated tags (fullwidth comma too), trimmed, deduplicated, at most MAX_TAGS."""
    tags = tuple(dict.fromkeys(t.strip()[:64] for t in text.replace("，", ",").split(",") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise InvalidInput.said("err_macros_too_many_tags", max_tags=MAX_TAGS)
    return tags


def _validate(session: Session, fields: MacroFields) -> None:
    if not fields.name.strip():
        raise InvalidInput.said("err_macros_needs_name")
    if fields.status is not None and fields.status not in TICKET_STATUSES:
        raise InvalidInput.said("err_macros_unknown_status", status=fields.status)
    if fields.priority is not None and fields.priority not in PRIORITIES:
        raise InvalidInput.said("err_macros_unknown_priority", priority=fields.priority)
    if fields.team_id is not None:
        ref_in_brand(session, Team, fields.team_id, fields.brand_id, "err_macros_team_other_brand")
    if fields.assignee_id is not None:
        auth_service.ensure_assignable(session, fields.assignee_id, fields.brand_id)
    if not (
        fields.status
        or fields.priority
        or fields.add_tags
        or fields.team_id
        or fields.assignee_id
        or fields.reply.strip()
    ):
        raise InvalidInput.said("err_macros_needs_action")


def _assign(row: TicketMacro, fields: MacroFields) -> None:
    row.name = fields.name.strip()[:100]
    row.status, row.priority = fields.status, fields.priority
    row.add_tags = list(fields.add_tags)
    row.team_id, row.assignee_id = fields.team_id, fields.assignee_id
    row.reply = fields.reply.strip()


def _unique(session: Session, brand_id: int, name: str, own_id: int | None) -> None:
    other = session.scalar(
        select(TicketMacro.id).where(TicketMacro.brand_id == brand_id, TicketMacro.name == name.strip()[:100])
    )
    if other is not None and other != own_id:
        raise Conflict.said("err_macros_name_taken", name=name.strip())


def create(session: Session, actor: Principal, fields: MacroFields) -> TicketMacro:
    """Add a macro to a brand."""
    _need_write(actor)
    ensure_brand(actor, fields.brand_id, "Brand")
    _validate(session, fields)
    _unique(session, fields.brand_id, fields.name, None)
    count = len(session.scalars(select(TicketMacro.id).where(TicketMacro.brand_id == fields.brand_id)).all())
    if count >= MAX_MACROS:
        raise InvalidInput.said("err_macros_too_many_macros", max_macros=MAX_MACROS)
    row = TicketMacro(brand_id=fields.brand_id, created_by=actor.agent_id)
    _assign(row, fields)
    session.add(row)
    session.flush()
    record(session, actor, "macro.create", target_type="ticket_macro", target_id=row.id, brand_id=row.brand_id)
    return row


def get(session: Session, macro_id: int, principal: Principal) -> TicketMacro:
    """A macro of a brand the principal can see."""
    return get_in_brand(session, TicketMacro, macro_id, principal, f"Macro {macro_id}")


def update(session: Session, row: TicketMacro, actor: Principal, fields: MacroFields) -> TicketMacro:
    """Replace a macro's actions (the brand stays)."""
    _need_write(actor)
    fields.brand_id = row.brand_id
    _validate(session, fields)
    _unique(session, row.brand_id, fields.name, row.id)
    _assign(row, fields)
    session.flush()
    record(session, actor, "macro.update", target_type="ticket_macro", target_id=row.id, brand_id=row.brand_id)
    return row


def delete(session: Session, row: TicketMacro, actor: Principal) -> None:
    """Remove a macro."""
    _need_write(actor)
    rid, bid = row.id, row.brand_id
    session.delete(row)
    session.flush()
    record(session, actor, "macro.delete", target_type="ticket_macro", target_id=rid, brand_id=bid)


def list_macros(session: Session, principal: Principal, brand_ids: set[int] | None = None) -> list[TicketMacro]:
    """Macros of the brands the principal works in (optionally narrowed), by brand and name."""
    stmt = select(TicketMacro)
    stmt = scope_to_brands(stmt, TicketMacro.brand_id, principal)
    if brand_ids is not None:
        stmt = stmt.where(TicketMacro.brand_id.in_(brand_ids))
    return list(session.scalars(stmt.order_by(TicketMacro.brand_id, TicketMacro.name).limit(MAX_MACROS)))


def changes_for(macro: TicketMacro, ticket: Ticket) -> dict[str, Any]:
    """The ticket changes a macro makes (tags are added to the ticket's own)."""
    changes: dict[str, Any] = {}
    if macro.status:
        changes["status"] = macro.status
    if macro.priority:
        changes["priority"] = macro.priority
    if macro.add_tags:
        changes["tags"] = list(dict.fromkeys([*ticket.tags, *macro.add_tags]))
    if macro.team_id:
        changes["team_id"] = macro.team_id
    if macro.assignee_id:
        changes["assignee_id"] = macro.assignee_id
    return changes


def apply(session: Session, macro: TicketMacro, ticket: Ticket, actor: Principal) -> list[str]:
    """Apply a macro's field actions to a ticket of the same brand; returns the names of the changed fields."""
    _need_write(actor)
    ensure_brand(actor, ticket.brand_id, "Ticket")
    if macro.brand_id != ticket.brand_id:
        raise InvalidInput.said("err_macros_other_brand")
    changes = changes_for(macro, ticket)
    before = {k: getattr(ticket, k) for k in changes}
    if changes:
        ticket_service.update_ticket(session, ticket, actor, changes)
    changed = sorted(k for k in changes if getattr(ticket, k) != before[k])
    record(
        session,
        actor,
        "macro.apply",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"macro_id": macro.id, "macro": macro.name, "changed": changed, "reply": bool(macro.reply)},
    )
    return changed


@dataclass
class FormOptions:
    """Choices for the macro form, limited to the principal's brands."""

    brands: list[tuple[int, str]]
    teams: list[tuple[int, int, str]]  # (id, brand_id, name)
    agents: list[tuple[int, int, str]]  # (id, brand_id, name): only agents who may be assigned


def form_options(session: Session, principal: Principal) -> FormOptions:
    """Brands, teams and assignable agents the macro form offers."""
    stmt = select(Brand.id, Brand.name).order_by(Brand.id)
    stmt = scope_to_brands(stmt, Brand.id, principal)
    brands = [(int(i), str(n)) for i, n in session.execute(stmt)]
    ids = [b for b, _ in brands]
    teams = [
        (t.id, t.brand_id, t.name)
        for t in session.scalars(select(Team).where(Team.brand_id.in_(ids)).order_by(Team.brand_id, Team.name))
    ]
    seen: dict[int, tuple[int, int, str]] = {}
    for b in ids:
        for a in auth_service.assignable_agents(session, b):
            seen.setdefault(a.id, (a.id, b, a.name))
    agents = list(seen.values())
    return FormOptions(brands, teams, agents)


def conversation_of(session: Session, ticket: Ticket) -> int | None:
    """The case's first conversation, if it has one."""
    from kefu.conversations.models import Conversation

    return session.scalar(
        select(Conversation.id).where(Conversation.ticket_id == ticket.id).order_by(Conversation.id).limit(1)
    )


def ticket_number(session: Session, ticket_id: int | None) -> str:
    """A ticket's number for the {ticket_number} placeholder ("" without a ticket)."""
    if ticket_id is None:
        return ""
    ticket = session.get(Ticket, ticket_id)
    return ticket.number if ticket is not None else ""
