"""Calls logged by agents: the caller found by normalised number, the call in the timeline, the case per policy.

Shared by the API (`POST /api/v1/channels/phone/calls`) and the console's call-logging screen, and the reads the
call pop-up shows (who is calling, their open cases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.models import Inbox
from kefu.brands.texts import brand_locale, brand_text
from kefu.conversations.commands import CreateConversation
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import add_message, create_conversation, get_conversation
from kefu.core.access import ensure_brand, ref_in_brand, scope_to_brands
from kefu.core.catalog import gettext
from kefu.core.commands import build
from kefu.core.errors import Forbidden, InvalidInput, NotFound
from kefu.customers.models import Customer
from kefu.customers.phones import phone_key
from kefu.customers.service import find_or_create_by_identity, get_customer
from kefu.tickets.intake import case_of, ensure_case
from kefu.tickets.models import Ticket

OUTCOMES = ("resolved", "follow_up", "escalated", "no_answer", "voicemail", "callback_requested")


class CallLog(BaseModel):
    """One phone call."""

    brand_id: int
    customer_id: int | None = None
    phone: Annotated[str | None, Field(max_length=64)] = None
    name: Annotated[str | None, Field(max_length=200)] = None
    conversation_id: int | None = None
    inbox_id: int | None = None
    direction: Literal["inbound", "outbound"]
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)]
    outcome: Literal["resolved", "follow_up", "escalated", "no_answer", "voicemail", "callback_requested"]
    notes: Annotated[str, Field(max_length=20_000)] = ""


@dataclass
class Logged:
    """What logging a call made."""

    conversation: Conversation
    customer_id: int
    message: Message
    ticket: Ticket | None


def find_by_phone(session: Session, principal: Principal, brand_id: int, phone: str) -> list[Customer]:
    """Customers of a brand whose number is this one in any spelling (0912-345-678 = +886912345678)."""
    ensure_brand(principal, brand_id, "Brand")
    key = phone_key(phone)
    if key is None:
        return []
    stmt = (
        select(Customer)
        .where(Customer.brand_id == brand_id, Customer.phone_key == key, Customer.merged_into_id.is_(None))
        .order_by(Customer.id)
        .limit(5)
    )
    return list(session.scalars(stmt))


def phone_inboxes(session: Session, principal: Principal) -> list[Inbox]:
    """Active phone inboxes of the principal's brands."""
    stmt = select(Inbox).where(Inbox.kind == "phone", Inbox.is_active.is_(True)).order_by(Inbox.brand_id, Inbox.id)
    stmt = scope_to_brands(stmt, Inbox.brand_id, principal)
    return list(session.scalars(stmt))


def _customer_id(session: Session, principal: Principal, body: CallLog) -> int:
    if body.customer_id is not None:
        customer = get_customer(session, body.customer_id, principal)
        if customer.brand_id != body.brand_id:
            raise InvalidInput.said("err_channels_customer_other_brand")
        return customer.id
    if body.phone and body.phone.strip():
        known = find_by_phone(session, principal, body.brand_id, body.phone)
        if known:
            return known[0].id
        customer, _ = find_or_create_by_identity(session, body.brand_id, "phone", body.phone.strip(), body.name)
        return customer.id
    raise InvalidInput.said("err_channels_call_needs_customer")


def log_call(session: Session, principal: Principal, body: CallLog) -> Logged:
    """Record a call in a (new or given) phone conversation of the customer; open the case per the inbox policy."""
    ensure_brand(principal, body.brand_id, "Brand")
    if not principal.can("conversations:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="conversations:write")
    if body.inbox_id is not None:
        wrong = "err_channels_not_phone_inbox"
        if ref_in_brand(session, Inbox, body.inbox_id, body.brand_id, wrong).kind != "phone":
            raise InvalidInput.said(wrong)
    if body.conversation_id is not None:
        conv = get_conversation(session, body.conversation_id, principal)
        if conv.brand_id != body.brand_id:
            raise InvalidInput.said("err_channels_conversation_other_brand")
        customer_id = conv.customer_id
    else:
        customer_id = _customer_id(session, principal, body)
        conv = create_conversation(
            session,
            build(
                CreateConversation,
                {
                    "brand_id": body.brand_id,
                    "customer_id": customer_id,
                    "channel": "phone",
                    "inbox_id": body.inbox_id,
                    "subject": brand_text(session, body.brand_id, f"subj_phone_{body.direction}"),
                },
            ),
            actor=principal,
        )
    minutes, seconds = divmod(body.duration_seconds, 60)
    locale = brand_locale(session, body.brand_id)
    summary = gettext("call_summary", locale).format(
        direction=gettext(f"call_{body.direction}", locale),
        duration=f"{minutes}:{seconds:02d}",
        outcome=gettext(f"call_outcome_{body.outcome}", locale),
    )
    msg, _ = add_message(
        session,
        conv,
        sender_type="agent",
        agent_id=principal.agent_id,
        body=f"{summary}\n{body.notes}".strip(),
        content_type="call",
        meta={
            "call": {"direction": body.direction, "duration_seconds": body.duration_seconds, "outcome": body.outcome}
        },
    )
    ticket = ensure_case(session, conv, msg, actor=principal)
    return Logged(conv, customer_id, msg, ticket)


def get_call(session: Session, principal: Principal, message_id: int) -> Logged:
    """A logged call by its message, as `log_call` answered it (404 outside the principal's brands)."""
    stmt = select(Message).where(Message.id == message_id, Message.content_type == "call")
    msg = session.scalars(scope_to_brands(stmt, Message.brand_id, principal)).first()
    if msg is None:
        raise NotFound.said("err_channels_call_not_found")
    conv = get_conversation(session, msg.conversation_id, principal)
    return Logged(conv, conv.customer_id, msg, case_of(session, conv))


@dataclass
class CallRow:
    """One logged call for the recent-calls list."""

    message: Message
    conversation: Conversation
    customer: Customer | None


def recent_calls(session: Session, principal: Principal, limit: int = 20) -> list[CallRow]:
    """The latest calls (logged by agents or by the PBX) in the principal's brands, newest first."""
    stmt = (
        select(Message, Conversation, Customer)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .where(Message.content_type == "call")
        .order_by(Message.id.desc())
        .limit(limit)
    )
    stmt = scope_to_brands(stmt, Message.brand_id, principal)
    return [CallRow(m, c, u) for m, c, u in session.execute(stmt)]


@dataclass
class Caller:
    """What the call pop-up shows about the caller."""

    customer: Customer
    conversation: Conversation | None
    open_tickets: list[Ticket]
    calls: int


def caller(session: Session, principal: Principal, customer_id: int, conversation_id: int | None) -> Caller:
    """The caller's record, the call's conversation and their open cases (brand access checked)."""
    customer = get_customer(session, customer_id, principal)
    conv = get_conversation(session, conversation_id, principal) if conversation_id else None
    if conv is not None and conv.customer_id != customer.id:
        conv = None
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.customer_id == customer.id, Ticket.status.not_in(("resolved", "closed")))
            .order_by(Ticket.id.desc())
            .limit(5)
        )
    )
    calls = len(
        session.scalars(
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.customer_id == customer.id, Message.content_type == "call")
            .limit(100)
        ).all()
    )
    return Caller(customer, conv, tickets, calls)
