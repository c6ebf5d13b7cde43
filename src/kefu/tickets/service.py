"""Tickets: numbering, lifecycle, classification, custom fields, links, merge/split, timeline, auto-close, listing.

Creation runs, in one transaction: validation → auto-classification (ticket from a conversation without a
category) → routing (team, priority) → SLA policy (priority floor, fallback team, deadlines) → auto-assignment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.auth.service import ensure_assignable
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.conversations.models import Conversation, Message
from kefu.core import like
from kefu.core.access import ensure_brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.routing import service as routing
from kefu.sla import service as sla
from kefu.tickets import search
from kefu.tickets.classify import DEFAULT_CATEGORIES, classifier_for
from kefu.tickets.commands import AssignTicket, ChangeTicketStatus, CreateTicket, UpdateTicket, build, changes_of
from kefu.tickets.models import (
    FIELD_TYPES,
    LINK_KINDS,
    TICKET_STATUSES,
    ClassificationFeedback,
    Ticket,
    TicketActivity,
    TicketCategory,
    TicketCounter,
    TicketFieldDefinition,
    TicketLink,
    TicketPriority,
    TicketStatus,
)
from kefu.tickets.timeline import add_activity, ticket_event, ticket_topics

__all__ = [
    "TRANSITIONS",
    "assign_ticket",
    "change_status",
    "change_ticket_status",
    "create_ticket",
    "get_ticket",
    "ticket_event",
    "update_ticket",
]

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "on_hold", "resolved", "closed"}),
    "open": frozenset({"pending", "on_hold", "resolved", "closed"}),
    "pending": frozenset({"open", "on_hold", "resolved", "closed"}),
    "on_hold": frozenset({"open", "pending", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),  # open = reopen
    "closed": frozenset({"open"}),  # reopen
}
SORTS = ("updated_at", "created_at")
DEFAULT_AUTO_CLOSE_DAYS = 7
DEFAULT_MIN_CONFIDENCE = 0.5
# Custom-field keys other packages set for SLA matching; always accepted.
RESERVED_FIELDS = frozenset({"complaint_level", "tier", "regulator_case"})
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def next_number(session: Session, brand: Brand) -> tuple[int, str]:
    """Allocate the next per-brand ticket number.

    PostgreSQL draws it from the brand's sequence (migration 0902), so concurrent creators never wait for each
    other; a rolled-back creation leaves a gap in the numbers, as ticket systems' numbers generally do. SQLite
    has a single writer, so the counter row (locked until commit) costs nothing there and stays gap-free.
    """
    seq: int | None
    if session.get_bind().dialect.name == "postgresql":
        seq = int(session.execute(select(func.kefu_next_ticket_number(brand.id))).scalar_one())
    else:
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
    return ticket_topics(t)


def _check_refs(session: Session, brand_id: int, team_id: int | None, assignee_id: int | None) -> None:
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or team.brand_id != brand_id:
            raise InvalidInput(f"Team {team_id} does not exist in this brand.")
    if assignee_id is not None:
        ensure_assignable(session, assignee_id, brand_id)  # same brand, may reply (kefu.auth.service)


# --------------------------------------------------------------------------- categories


def active_category_keys(session: Session, brand_id: int) -> set[str]:
    """Keys of the brand's active categories (empty = the brand has not configured a taxonomy)."""
    return set(
        session.scalars(
            select(TicketCategory.key).where(TicketCategory.brand_id == brand_id, TicketCategory.is_active.is_(True))
        )
    )


def _check_category(session: Session, brand_id: int, category: str | None) -> None:
    if category is None:
        return
    keys = active_category_keys(session, brand_id)
    if keys and category not in keys:
        raise InvalidInput(f"Unknown category {category!r}; configured: {', '.join(sorted(keys))}.")


def list_categories(session: Session, brand_id: int, actor: Principal | None) -> list[TicketCategory]:
    """A brand's categories in display order."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(
            select(TicketCategory)
            .where(TicketCategory.brand_id == brand_id)
            .order_by(TicketCategory.position, TicketCategory.id)
        )
    )


def create_category(session: Session, *, brand_id: int, actor: Principal | None, **fields: Any) -> TicketCategory:
    """Add a category to a brand's taxonomy."""
    get_brand(session, brand_id, actor)
    if not _KEY_RE.match(fields["key"]):
        raise InvalidInput("Category keys are lowercase letters, digits and underscores.")
    if fields.get("parent_key") is not None and fields["parent_key"] not in active_category_keys(session, brand_id):
        raise InvalidInput(f"Parent category {fields['parent_key']!r} does not exist.")
    clash = session.scalar(
        select(TicketCategory.id).where(TicketCategory.brand_id == brand_id, TicketCategory.key == fields["key"])
    )
    if clash is not None:
        raise Conflict(f"Category {fields['key']!r} already exists in this brand.")
    row = TicketCategory(brand_id=brand_id, **fields)
    session.add(row)
    session.flush()
    record(session, actor, "ticket_category.create", target_type="ticket_category", target_id=row.id, brand_id=brand_id)
    return row


def get_category(session: Session, category_id: int, actor: Principal | None) -> TicketCategory:
    """A category (404 when missing or in another brand)."""
    row = session.get(TicketCategory, category_id)
    if row is None:
        raise NotFound(f"Category {category_id} not found.")
    ensure_brand(actor, row.brand_id, "Category")
    return row


def update_category(
    session: Session, row: TicketCategory, actor: Principal | None, changes: dict[str, Any]
) -> TicketCategory:
    """Change labels, keywords, order, parent or active flag (the key is permanent)."""
    for key, value in changes.items():
        if value is not None or key == "parent_key":
            setattr(row, key, value)
    session.flush()
    record(
        session,
        actor,
        "ticket_category.update",
        target_type="ticket_category",
        target_id=row.id,
        brand_id=row.brand_id,
        details={"fields": sorted(changes)},
    )
    return row


def install_default_categories(session: Session, brand_id: int, actor: Principal | None) -> int:
    """Install the bilingual default taxonomy (keys already present are kept); returns how many were added."""
    get_brand(session, brand_id, actor)
    have = set(session.scalars(select(TicketCategory.key).where(TicketCategory.brand_id == brand_id)))
    added = 0
    for i, seed in enumerate(DEFAULT_CATEGORIES):
        if seed.key in have:
            continue
        create_category(
            session,
            brand_id=brand_id,
            actor=actor,
            key=seed.key,
            label_zh=seed.label_zh,
            label_en=seed.label_en,
            keywords=list(seed.keywords),
            position=(i + 1) * 10,
        )
        added += 1
    return added


def category_labels(session: Session, brand_id: int, key: str | None) -> dict[str, str] | None:
    """Bilingual labels of a category key (brand's own, else the defaults)."""
    if key is None:
        return None
    row = session.scalar(select(TicketCategory).where(TicketCategory.brand_id == brand_id, TicketCategory.key == key))
    if row is not None:
        return {"zh": row.label_zh, "en": row.label_en}
    seed = next((c for c in DEFAULT_CATEGORIES if c.key == key), None)
    return {"zh": seed.label_zh, "en": seed.label_en} if seed else {"zh": key, "en": key}


# --------------------------------------------------------------------------- custom fields


def _definitions(session: Session, brand_id: int) -> dict[str, TicketFieldDefinition]:
    rows = session.scalars(
        select(TicketFieldDefinition).where(
            TicketFieldDefinition.brand_id == brand_id, TicketFieldDefinition.is_active.is_(True)
        )
    )
    return {r.key: r for r in rows}


def _coerce(d: TicketFieldDefinition, value: Any) -> Any:
    rules = d.validation or {}
    label = d.key
    if d.type in ("text", "textarea", "email", "url"):
        if not isinstance(value, str):
            raise InvalidInput(f"Field {label!r} must be a string.")
        value = value.strip()
        if "min_length" in rules and len(value) < int(rules["min_length"]):
            raise InvalidInput(f"Field {label!r} is shorter than {rules['min_length']} characters.")
        if len(value) > int(rules.get("max_length", 10_000)):
            raise InvalidInput(f"Field {label!r} is longer than {rules.get('max_length', 10_000)} characters.")
        if "pattern" in rules and not re.fullmatch(str(rules["pattern"]), value):
            raise InvalidInput(f"Field {label!r} does not match the required format.")
        if d.type == "email" and not _EMAIL_RE.match(value):
            raise InvalidInput(f"Field {label!r} must be an email address.")
        if d.type == "url" and not value.startswith(("https://", "http://")):
            raise InvalidInput(f"Field {label!r} must be an http(s) URL.")
        return value
    if d.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"Field {label!r} must be a number.")
        if d.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidInput(f"Field {label!r} must be a whole number.")
            value = int(value)
        if "min" in rules and value < rules["min"]:
            raise InvalidInput(f"Field {label!r} must be at least {rules['min']}.")
        if "max" in rules and value > rules["max"]:
            raise InvalidInput(f"Field {label!r} must be at most {rules['max']}.")
        return value
    if d.type == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput(f"Field {label!r} must be true or false.")
        return value
    if d.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise InvalidInput(f"Field {label!r} must be a date (YYYY-MM-DD).") from exc
    if d.type == "select":
        if value not in (d.options or []):
            raise InvalidInput(f"Field {label!r} must be one of {d.options}.")
        return value
    if not isinstance(value, list) or any(v not in (d.options or []) for v in value):
        raise InvalidInput(f"Field {label!r} must be a list of values from {d.options}.")
    return list(dict.fromkeys(value))


def validate_custom_fields(
    session: Session, brand_id: int, values: dict[str, Any], existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge `values` into `existing` (None deletes a key), validating against the brand's field definitions.

    Brands without definitions keep free-form fields; once any field is defined, unknown keys are refused.
    """
    defs = _definitions(session, brand_id)
    out = dict(existing or {})
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
            continue
        if key in RESERVED_FIELDS or not defs:
            out[key] = value
            continue
        d = defs.get(key)
        if d is None:
            raise InvalidInput(f"Unknown custom field {key!r}.")
        out[key] = _coerce(d, value)
    missing = [k for k, d in defs.items() if d.required and out.get(k) in (None, "", [])]
    if missing:
        raise InvalidInput(f"Required custom field(s) missing: {', '.join(sorted(missing))}.")
    return out


def list_field_definitions(session: Session, brand_id: int, actor: Principal | None) -> list[TicketFieldDefinition]:
    """A brand's custom-field definitions in display order."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(
            select(TicketFieldDefinition)
            .where(TicketFieldDefinition.brand_id == brand_id)
            .order_by(TicketFieldDefinition.position, TicketFieldDefinition.id)
        )
    )


def _check_definition(type_: str, options: Sequence[Any], validation: dict[str, Any]) -> None:
    if type_ not in FIELD_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(FIELD_TYPES)}.")
    if type_ in ("select", "multiselect") and not options:
        raise InvalidInput("select and multiselect fields need options.")
    if "pattern" in validation:
        try:
            re.compile(str(validation["pattern"]))
        except re.error as exc:
            raise InvalidInput(f"Invalid pattern: {exc}.") from exc


def create_field_definition(
    session: Session, *, brand_id: int, actor: Principal | None, **fields: Any
) -> TicketFieldDefinition:
    """Define a custom ticket field."""
    get_brand(session, brand_id, actor)
    if not _KEY_RE.match(fields["key"]) or fields["key"] in RESERVED_FIELDS:
        raise InvalidInput("Field keys are lowercase letters, digits and underscores, and not reserved.")
    _check_definition(fields["type"], fields.get("options") or [], fields.get("validation") or {})
    clash = session.scalar(
        select(TicketFieldDefinition.id).where(
            TicketFieldDefinition.brand_id == brand_id, TicketFieldDefinition.key == fields["key"]
        )
    )
    if clash is not None:
        raise Conflict(f"Field {fields['key']!r} already exists in this brand.")
    row = TicketFieldDefinition(brand_id=brand_id, **fields)
    session.add(row)
    session.flush()
    record(session, actor, "ticket_field.create", target_type="ticket_field", target_id=row.id, brand_id=brand_id)
    return row


def get_field_definition(session: Session, field_id: int, actor: Principal | None) -> TicketFieldDefinition:
    """A field definition (404 when missing or in another brand)."""
    row = session.get(TicketFieldDefinition, field_id)
    if row is None:
        raise NotFound(f"Field {field_id} not found.")
    ensure_brand(actor, row.brand_id, "Field")
    return row


def update_field_definition(
    session: Session, row: TicketFieldDefinition, actor: Principal | None, changes: dict[str, Any]
) -> TicketFieldDefinition:
    """Change a field definition (its key and type are permanent)."""
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, value)
    _check_definition(row.type, row.options or [], row.validation or {})
    session.flush()
    record(
        session,
        actor,
        "ticket_field.update",
        target_type="ticket_field",
        target_id=row.id,
        brand_id=row.brand_id,
        details={"fields": sorted(changes)},
    )
    return row


# --------------------------------------------------------------------------- creation


def classification_text(session: Session, ticket: Ticket) -> str:
    """Text the classifier reads: the first customer message of a linked conversation, else subject + body."""
    body = session.scalar(
        select(Message.body)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.ticket_id == ticket.id, Message.sender_type == "customer")
        .order_by(Message.id)
        .limit(1)
    )
    return body or f"{ticket.subject}\n{ticket.description}".strip()


def _auto_classify(session: Session, ticket: Ticket, brand: Brand) -> None:
    category, confidence = classifier_for(session, ticket.brand_id).classify(classification_text(session, ticket))
    threshold = float(brand.settings.get("classifier_min_confidence", DEFAULT_MIN_CONFIDENCE))
    if category is None or confidence < threshold:
        return
    keys = active_category_keys(session, ticket.brand_id)
    if keys and category not in keys:
        return
    ticket.category, ticket.category_source, ticket.category_confidence = category, "auto", confidence
    add_activity(session, ticket, "classify", data={"category": category, "confidence": confidence})


def create_ticket(
    session: Session,
    *,
    brand_id: int,
    subject: str,
    actor: Principal | None,
    description: str = "",
    customer_id: int | None = None,
    priority: str | None = None,
    category: str | None = None,
    channel: str = "api",
    team_id: int | None = None,
    assignee_id: int | None = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    conversation_id: int | None = None,
    language: str | None = None,
    opened_at: datetime | None = None,
) -> Ticket:
    """Open a ticket with the next human-readable number, then classify, route, start the SLA and assign."""
    cmd = build(
        CreateTicket,
        {
            "brand_id": brand_id,
            "subject": subject,
            "description": description,
            "customer_id": customer_id,
            "priority": priority,
            "category": category,
            "channel": channel,
            "team_id": team_id,
            "assignee_id": assignee_id,
            "tags": tags or [],
            "custom_fields": custom_fields or {},
            "conversation_id": conversation_id,
            "language": language,
        },
    )
    return _create(session, cmd, actor, opened_at=opened_at)


def _create(session: Session, cmd: CreateTicket, actor: Principal | None, *, opened_at: datetime | None) -> Ticket:
    brand_id, customer_id, team_id, assignee_id = cmd.brand_id, cmd.customer_id, cmd.team_id, cmd.assignee_id
    priority, category, conversation_id = cmd.priority, cmd.category, cmd.conversation_id
    brand = get_brand(session, brand_id, actor)
    organization_id = None
    customer = None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.brand_id != brand_id:
            raise InvalidInput(f"Customer {customer_id} does not exist in this brand.")
        organization_id = customer.organization_id
    _check_refs(session, brand_id, team_id, assignee_id)
    _check_category(session, brand_id, category)
    fields = validate_custom_fields(session, brand_id, cmd.custom_fields)
    conv = None
    if conversation_id is not None:
        conv = session.get(Conversation, conversation_id)
        if conv is None or conv.brand_id != brand_id:
            raise InvalidInput(f"Conversation {conversation_id} does not exist in this brand.")
        if conv.ticket_id is not None:
            raise Conflict(f"Conversation {conversation_id} is already linked to a ticket.")
    now = utcnow()
    if opened_at is not None and opened_at > now:
        raise InvalidInput("opened_at cannot be in the future.")
    _, number = next_number(session, brand)
    ticket = Ticket(
        brand_id=brand_id,
        number=number,
        subject=cmd.subject,
        description=cmd.description,
        status=TicketStatus.OPEN if assignee_id else TicketStatus.NEW,
        priority=priority or TicketPriority.NORMAL,
        category=category,
        category_source="manual" if category else None,
        channel=cmd.channel,
        customer_id=customer_id,
        organization_id=organization_id,
        team_id=team_id,
        assignee_id=assignee_id,
        tags=sorted(set(cmd.tags)),
        custom_fields=fields,
        language=cmd.language or (customer.locale if customer else None),
        created_at=opened_at or now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    if conv is not None:
        conv.ticket_id = ticket.id
        session.flush()
    if category is None:  # every case is classified unless someone chose its category (#17)
        _auto_classify(session, ticket, brand)
    routing.route_new_ticket(session, ticket, actor, explicit_team=team_id is not None, apply_priority=priority is None)
    sla.start_ticket_sla(session, ticket, now, set_priority=priority is None)
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
    if ticket.assignee_id is None:
        routing.auto_assign(session, ticket, actor)
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


# --------------------------------------------------------------------------- lifecycle


def change_status(ticket: Ticket, new: str, now: datetime) -> None:
    """Apply a lifecycle transition, stamping resolved/closed times and counting reopens."""
    if new not in TICKET_STATUSES:
        raise InvalidInput(f"Unknown status {new!r}.")
    new = TicketStatus(new)
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
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
    ticket.status = new


# Called after every status change with (session, ticket, old, new, now): proactive customer notices register here.
status_hooks: list[Callable[[Session, Ticket, str, str, datetime], None]] = []


def _set_status(session: Session, ticket: Ticket, new: str, now: datetime) -> str:
    old = ticket.status
    if ticket.merged_into_id is not None and new not in ("closed",):
        raise Conflict(f"Ticket {ticket.number} was merged into another ticket; work on that one.")
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
    record(
        session,
        actor,
        "ticket.comment",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"public": public, "activity_id": entry.id},
    )
    payload = {"ticket_id": ticket.id, "activity_id": entry.id, "public": public, "body": body}
    topics = _topics(ticket) + ((f"ticket:{ticket.id}:public",) if public else ())
    publish(session, "ticket.comment", payload, topics)
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


def confirm_resolution(session: Session, ticket: Ticket, actor: Principal | None, *, by: str = "customer") -> Ticket:
    """Close a resolved ticket on the customer's confirmation."""
    if ticket.status != "resolved":
        raise Conflict("Only a resolved ticket can be confirmed.")
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


# --------------------------------------------------------------------------- links, merge, split


def _parents(session: Session, ticket_id: int) -> set[int]:
    seen: set[int] = set()
    frontier = {ticket_id}
    while frontier:
        ups = set(
            session.scalars(
                select(TicketLink.source_id).where(
                    TicketLink.target_id.in_(frontier), TicketLink.kind == "parent_child"
                )
            )
        )
        frontier = ups - seen
        seen |= ups
    return seen


def link_tickets(session: Session, source: Ticket, target: Ticket, kind: str, actor: Principal | None) -> TicketLink:
    """Relate two tickets of one brand; for parent_child, `source` is the parent."""
    if kind not in LINK_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(LINK_KINDS)}.")
    if source.brand_id != target.brand_id:
        raise NotFound("Ticket not found.")
    if source.id == target.id:
        raise InvalidInput("A ticket cannot be linked to itself.")
    pair = [(source.id, target.id)] if kind == "parent_child" else [(source.id, target.id), (target.id, source.id)]
    for a, b in pair:
        exists = session.scalar(
            select(TicketLink.id).where(TicketLink.source_id == a, TicketLink.target_id == b, TicketLink.kind == kind)
        )
        if exists is not None:
            raise Conflict("These tickets are already linked that way.")
    if kind == "parent_child":
        if target.id in _parents(session, source.id) or source.id in _parents(session, target.id) - {source.id}:
            raise Conflict("That link would make a ticket its own ancestor.")
        has_parent = session.scalar(
            select(TicketLink.id).where(TicketLink.target_id == target.id, TicketLink.kind == "parent_child")
        )
        if has_parent is not None:
            raise Conflict(f"Ticket {target.number} already has a parent.")
    link = TicketLink(
        brand_id=source.brand_id,
        source_id=source.id,
        target_id=target.id,
        kind=kind,
        created_by=actor.agent_id if actor else None,
    )
    session.add(link)
    session.flush()
    record(
        session,
        actor,
        "ticket.link",
        target_type="ticket",
        target_id=source.id,
        brand_id=source.brand_id,
        details={"target": target.id, "kind": kind},
    )
    return link


def links_of(session: Session, ticket: Ticket) -> list[TicketLink]:
    """Links where the ticket is either end."""
    return list(
        session.scalars(
            select(TicketLink)
            .where(or_(TicketLink.source_id == ticket.id, TicketLink.target_id == ticket.id))
            .order_by(TicketLink.id)
        )
    )


def unlink(session: Session, ticket: Ticket, link_id: int, actor: Principal | None) -> None:
    """Remove a link of the ticket."""
    link = session.get(TicketLink, link_id)
    if link is None or ticket.id not in (link.source_id, link.target_id):
        raise NotFound(f"Link {link_id} not found.")
    record(
        session,
        actor,
        "ticket.unlink",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"link": link_id, "kind": link.kind},
    )
    session.delete(link)
    session.flush()


def merge_tickets(session: Session, target: Ticket, sources: Sequence[Ticket], actor: Principal | None) -> Ticket:
    """Merge duplicates into `target`: conversations move, tags unite, sources close as merged duplicates."""
    if target.merged_into_id is not None:
        raise Conflict(f"Ticket {target.number} was itself merged; merge into the surviving ticket.")
    if target.status == "closed":
        raise Conflict(f"Ticket {target.number} is closed; reopen it before merging into it.")
    if not sources:
        raise InvalidInput("Give at least one ticket to merge.")
    now = utcnow()
    for src in sources:
        if src.brand_id != target.brand_id:
            raise NotFound("Ticket not found.")
        if src.id == target.id:
            raise InvalidInput("A ticket cannot be merged into itself.")
        if src.merged_into_id is not None:
            raise Conflict(f"Ticket {src.number} was already merged.")
    for src in sources:
        session.execute(update(Conversation).where(Conversation.ticket_id == src.id).values(ticket_id=target.id))
        target.tags = sorted(set(target.tags or []) | set(src.tags or []))
        if target.customer_id is None and src.customer_id is not None:
            target.customer_id, target.organization_id = src.customer_id, src.organization_id
        if src.status != "closed":
            _set_status(session, src, "closed", now)
        src.merged_into_id = target.id
        src.updated_at = now
        session.add(
            TicketLink(
                brand_id=src.brand_id,
                source_id=src.id,
                target_id=target.id,
                kind="duplicate",
                created_by=actor.agent_id if actor else None,
            )
        )
        add_activity(
            session,
            src,
            "merge",
            public=True,
            body=f"此案件已合併至 {target.number} / Merged into {target.number}",
            data={"into": target.id},
            at=now,
        )
        add_activity(session, target, "merge", data={"from": src.id, "number": src.number}, at=now)
        session.flush()
        sla.refresh_ticket_sla(session, src, now)
        publish(session, "ticket.merged", {**ticket_event(src), "into": target.id}, _topics(src))
    target.updated_at = now
    session.flush()
    record(
        session,
        actor,
        "ticket.merge",
        target_type="ticket",
        target_id=target.id,
        brand_id=target.brand_id,
        details={"sources": [s.id for s in sources]},
    )
    publish(session, "ticket.updated", ticket_event(target), _topics(target))
    return target


def split_ticket(
    session: Session,
    source: Ticket,
    actor: Principal | None,
    *,
    subject: str,
    description: str = "",
    conversation_ids: Sequence[int] = (),
    category: str | None = None,
) -> Ticket:
    """Split part of a ticket into a new child ticket, moving the given conversations to it."""
    if source.merged_into_id is not None:
        raise Conflict(f"Ticket {source.number} was merged; split the surviving ticket.")
    convs = []
    for cid in conversation_ids:
        conv = session.get(Conversation, cid)
        if conv is None or conv.ticket_id != source.id:
            raise InvalidInput(f"Conversation {cid} is not linked to ticket {source.number}.")
        convs.append(conv)
    child = create_ticket(
        session,
        brand_id=source.brand_id,
        subject=subject,
        actor=actor,
        description=description,
        customer_id=source.customer_id,
        priority=source.priority,
        category=category or source.category,
        channel=source.channel,
        team_id=source.team_id,
        tags=list(source.tags or []),
        language=source.language,
    )
    for conv in convs:
        conv.ticket_id = child.id
    link_tickets(session, source, child, "parent_child", actor)
    add_activity(session, source, "split", data={"child": child.id, "number": child.number})
    add_activity(session, child, "split", data={"parent": source.id, "number": source.number})
    session.flush()
    publish(session, "ticket.split", {**ticket_event(child), "parent": source.id}, _topics(source))
    return child


# --------------------------------------------------------------------------- feedback, listing


def list_feedback(
    session: Session, principal: Principal, *, brand_id: int | None, limit: int, cursor: str | None
) -> tuple[list[ClassificationFeedback], str | None]:
    """Classification corrections, newest first (training data)."""
    stmt = select(ClassificationFeedback)
    if principal.brand_ids is not None:
        stmt = stmt.where(ClassificationFeedback.brand_id.in_(principal.brand_ids))
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
        stmt = stmt.where(like.pattern(cast(Ticket.tags, String), '%"', tag, '"%'))
    if q and q.strip():
        stmt = stmt.where(search_condition(session, q))
    if created_after is not None:
        stmt = stmt.where(Ticket.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(Ticket.created_at < created_before)
    sort_col = Ticket.updated_at if sort == "updated_at" else Ticket.created_at
    return keyset_page(session, stmt, sort_col, Ticket.id, limit=limit, cursor=cursor)
