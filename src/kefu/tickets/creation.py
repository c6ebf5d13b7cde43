"""Ticket creation: numbering, validation, auto-classification, routing, SLA start and assignment in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, Text, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.auth.service import ensure_assignable
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.core.access import get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.db import (
    ComputedInsert,
    InsertWithChild,
    insert_now,
    insert_with_child_now,
    new_row,
    run_prebuilt,
    utcnow,
)
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.customers.models import Customer
from kefu.routing import service as routing
from kefu.sla import service as sla
from kefu.tickets import search
from kefu.tickets.classify import classifier_for
from kefu.tickets.commands import CreateTicket, TicketComment, build
from kefu.tickets.config import BrandSnapshot, brand_snapshot
from kefu.tickets.models import (
    Ticket,
    TicketActivity,
    TicketCounter,
    TicketPriority,
    TicketStatus,
)
from kefu.tickets.taxonomy import _check_category, active_category_keys, validate_custom_fields
from kefu.tickets.timeline import add_activity, ticket_event
from kefu.tickets.timeline import ticket_topics as _topics

DEFAULT_MIN_CONFIDENCE = 0.5


# Built once (Core, on the table): a statement built per call spends more CPU on construction and cache-key
# generation than the database spends running it.
_PG_NEXT = select(func.kefu_next_ticket_number(bindparam("brand_id")))
# PostgreSQL: the number drawn and formatted inside the ticket's own INSERT (as next_number formats it: prefix, "-",
# at least six digits), read back with the id: one round trip less per create than drawing it first.
_NEXT = select(func.kefu_next_ticket_number(bindparam("number_brand_id")).label("seq")).subquery("next_number")
_PG_NUMBERED = ComputedInsert(
    Ticket,
    number=select(
        bindparam("number_prefix", type_=String)
        + "-"
        + case((_NEXT.c.seq < 1_000_000, func.lpad(_NEXT.c.seq.cast(Text), 6, "0")), else_=_NEXT.c.seq.cast(Text))
    ).scalar_subquery(),
)
# PostgreSQL, a create with its first message: the ticket (numbered as above) and that timeline entry in one statement.
_PG_WITH_FIRST = InsertWithChild(_PG_NUMBERED, TicketActivity, "ticket_id")
_COUNTERS = cast(Table, TicketCounter.__table__)
_COUNTER_NEXT = (
    update(_COUNTERS)
    .where(_COUNTERS.c.brand_id == bindparam("b_brand_id"))
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)


def _new_ticket(session: Session, values: dict[str, Any]) -> Ticket:
    """A new ticket's object from its column values (new_row), its search document first, not inserted yet.

    What the ORM flush spent on one object (unit of work, per-flush statement setup) was the largest share of a
    create's CPU, so _insert_ticket inserts it with a prebuilt Core statement (kefu.core.db.insert_now). Of the
    flush hooks, the one that concerns a new ticket, its search document, is run here by the same function
    (kefu.tickets.search.ticket_document).
    """
    dialect = session.get_bind().dialect.name
    values["search_vector"] = search.ticket_document(values["subject"], values["description"], dialect)
    return new_row(Ticket, values)


def _insert_ticket(session: Session, ticket: Ticket, brand: BrandSnapshot, first: TicketActivity | None) -> None:
    """INSERT the new ticket and its first timeline entry (`first`, not inserted yet), if any.

    Without a `number` (PostgreSQL) the INSERT draws the brand's next one itself, and the entry goes into the same
    statement (_PG_WITH_FIRST): one round trip for both.
    """
    if ticket.number is not None:
        insert_now(session, ticket)
        if first is not None:
            first.ticket_id = ticket.id
            insert_now(session, first)  # no flush hooks concern a timeline entry: one INSERT, no unit of work
        return
    binds = {"number_brand_id": brand.id, "number_prefix": brand.ticket_prefix}
    if first is None:
        insert_now(session, ticket, _PG_NUMBERED, binds)
    else:
        insert_with_child_now(session, ticket, first, _PG_WITH_FIRST, binds)


def next_number(session: Session, brand: Brand | BrandSnapshot) -> tuple[int, str]:
    """Allocate the next per-brand ticket number.

    PostgreSQL draws it from the brand's sequence (migration 0902), so concurrent creators never wait for each
    other; a rolled-back creation leaves a gap in the numbers, as ticket systems' numbers generally do. SQLite
    has a single writer, so the counter row (locked until commit) costs nothing there and stays gap-free.
    """
    seq: int | None
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        seq = int(run_prebuilt(conn, _PG_NEXT, {"brand_id": brand.id})[0][0][0])
    else:
        rows, _count = run_prebuilt(conn, _COUNTER_NEXT, {"b_brand_id": brand.id})
        seq = rows[0][0] if rows else None
        if seq is None:
            session.add(TicketCounter(brand_id=brand.id, value=1))
            session.flush()
            seq = 1
    return seq, f"{brand.ticket_prefix}-{seq:06d}"


def _check_refs(session: Session, brand_id: int, team_id: int | None, assignee_id: int | None) -> None:
    if team_id is not None:
        ref_in_brand(session, Team, team_id, brand_id, "err_core_team_not_in_brand", team_id=team_id)
    if assignee_id is not None:
        ensure_assignable(session, assignee_id, brand_id)  # same brand, may reply (kefu.auth.service)


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


def _auto_classify(session: Session, ticket: Ticket, brand: BrandSnapshot, *, linked: bool) -> None:
    # A ticket opened without a conversation has no messages yet: its own text is all there is to read.
    text = classification_text(session, ticket) if linked else f"{ticket.subject}\n{ticket.description}".strip()
    category, confidence = classifier_for(session, ticket.brand_id).classify(text)
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
    comment: TicketComment | dict[str, Any] | None = None,
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
            "comment": comment,
        },
    )
    return open_ticket(session, cmd, actor, opened_at=opened_at)


def open_ticket(
    session: Session, cmd: CreateTicket, actor: Principal | None, *, opened_at: datetime | None = None
) -> Ticket:
    """`create_ticket` for a command validated already (the API's body is one: no dump and second validation)."""
    return _create(session, cmd, actor, opened_at=opened_at)


def _create(session: Session, cmd: CreateTicket, actor: Principal | None, *, opened_at: datetime | None) -> Ticket:
    brand_id, customer_id, team_id, assignee_id = cmd.brand_id, cmd.customer_id, cmd.team_id, cmd.assignee_id
    priority, category, conversation_id = cmd.priority, cmd.category, cmd.conversation_id
    brand = brand_snapshot(session, brand_id, actor)
    organization_id = None
    customer = None
    if customer_id is not None:
        customer = ref_in_brand(
            session,
            Customer,
            customer_id,
            brand_id,
            "err_core_customer_not_in_brand",
            customer_id=customer_id,
        )
        organization_id = customer.organization_id
    _check_refs(session, brand_id, team_id, assignee_id)
    _check_category(session, brand_id, category)
    fields = validate_custom_fields(session, brand_id, cmd.custom_fields)
    conv = None
    if conversation_id is not None:
        conv = ref_in_brand(
            session,
            Conversation,
            conversation_id,
            brand_id,
            "err_core_conversation_not_in_brand",
            conversation_id=conversation_id,
        )
        if conv.ticket_id is not None:
            raise Conflict.said("err_tickets_conversation_already_linked", conversation_id=conversation_id)
    now = utcnow()
    if opened_at is not None and opened_at > now:
        raise InvalidInput.said("err_tickets_opened_in_future")
    values: dict[str, Any] = {
        "brand_id": brand_id,
        "subject": cmd.subject,
        "description": cmd.description,
        "status": TicketStatus.OPEN if assignee_id else TicketStatus.NEW,
        "priority": priority or TicketPriority.NORMAL,
        "category": category,
        "category_source": "manual" if category else None,
        "channel": cmd.channel,
        "customer_id": customer_id,
        "organization_id": organization_id,
        "team_id": team_id,
        "assignee_id": assignee_id,
        "tags": sorted(set(cmd.tags)),
        "custom_fields": fields,
        "language": cmd.language or (customer.locale if customer else None),
        "created_at": opened_at or now,
        "updated_at": now,
    }
    if cmd.comment is not None and cmd.comment.public:  # in the INSERT, not an UPDATE after the first comment
        values["first_response_at"] = values["last_public_update_at"] = now
    if session.get_bind().dialect.name != "postgresql":  # PostgreSQL draws the number in the INSERT (_PG_NUMBERED)
        _, values["number"] = next_number(session, brand)
    ticket = _new_ticket(session, values)
    first = None
    if cmd.comment is not None:
        # The timeline's first entry, inserted with the ticket (so ahead of classification's and routing's entries,
        # in id order as in time) and before the SLA starts, so its one evaluation already sees the first response
        # (as a reply would).
        first = add_activity(
            session,
            ticket,
            "comment",
            body=cmd.comment.body,
            public=cmd.comment.public,
            agent_id=actor.agent_id if actor else None,
            at=now,
        )
    _insert_ticket(session, ticket, brand, first)
    number = ticket.number
    if conv is not None:
        conv.ticket_id = ticket.id
        session.flush()
    if category is None:  # every case is classified unless someone chose its category (#17)
        _auto_classify(session, ticket, brand, linked=conv is not None)
    routing.route_new_ticket(session, ticket, actor, explicit_team=team_id is not None, apply_priority=priority is None)
    sla.start_ticket_sla(session, ticket, now, set_priority=priority is None, fresh=True)
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
    if first is not None:
        announce_comment(session, ticket, actor, first)
    if ticket.assignee_id is None:
        routing.auto_assign(session, ticket, actor)
    return ticket


def announce_comment(session: Session, ticket: Ticket, actor: Principal | None, entry: TicketActivity) -> None:
    """The audit row and event of a comment, on create and in kefu.tickets.lifecycle.add_comment alike."""
    if entry.id is None:
        session.flush()
    details = {"public": entry.public, "activity_id": entry.id}
    record(
        session,
        actor,
        "ticket.comment",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details=details,
    )
    payload = {"ticket_id": ticket.id, "activity_id": entry.id, "public": entry.public, "body": entry.body}
    topics = _topics(ticket) + ((f"ticket:{ticket.id}:public",) if entry.public else ())
    publish(session, "ticket.comment", payload, topics)


def get_ticket(session: Session, ticket_id: int, principal: Principal | None) -> Ticket:
    """Ticket by id (404 if missing or in another brand)."""
    t = get_in_brand(session, Ticket, ticket_id, principal, f"Ticket {ticket_id}")
    return t


def get_ticket_by_number(session: Session, number: str, principal: Principal | None) -> Ticket:
    """Ticket by its human-readable number."""
    # Brands may share a prefix: the caller's own brands are searched, and another brand's number is "not found".
    stmt = select(Ticket).where(Ticket.number == number.strip().upper())
    t = session.scalar(scope_to_brands(stmt, Ticket.brand_id, principal).order_by(Ticket.id).limit(1))
    if t is None:
        raise NotFound.said("err_tickets_ticket_number_not_found", number=number)
    return t
