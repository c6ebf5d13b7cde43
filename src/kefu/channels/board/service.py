"""Leave-a-message: one public submission becomes a customer message, a conversation and a ticket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.brands.models import Inbox
from kefu.brands.texts import brand_text
from kefu.channels.models import InboundEvent
from kefu.channels.service import announce_inbound
from kefu.conversations.commands import CreateConversation
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import add_message, create_conversation
from kefu.core.addresses import is_email
from kefu.core.commands import build
from kefu.core.ratelimit import RouteLimit
from kefu.customers.models import Customer
from kefu.customers.service import find_or_create_by_identity
from kefu.tickets.intake import ensure_case
from kefu.tickets.models import Ticket

# The public form and the widget's "leave a message" each open a ticket: per client address, a few in ten minutes.
SUBMISSIONS = RouteLimit(
    "leave_message", per_ip=10, window=timedelta(minutes=10), detail_key="err_channels_board_too_many"
)

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{5,30}$")


@dataclass
class Submission:
    """What the form created."""

    conversation: Conversation
    ticket: Ticket
    message: Message


def _customer(session: Session, brand_id: int, name: str, contact: str) -> Customer:
    contact = contact.strip()
    if is_email(contact):
        customer, _ = find_or_create_by_identity(session, brand_id, "email", contact.lower(), name or None)
    elif PHONE_RE.match(contact):
        digits = re.sub(r"[ ()-]", "", contact)
        customer, _ = find_or_create_by_identity(session, brand_id, "phone", digits, name or None)
    else:
        customer, _ = find_or_create_by_identity(session, brand_id, "board", contact[:320], name or None)
    # An existing customer keeps their record as it is: the typed contact proves nothing (a stranger's post wrote
    # its name onto a nameless customer, which agents and mail greet them by); a new one is named at creation.
    return customer


def submit(
    session: Session,
    inbox: Inbox,
    *,
    name: str,
    contact: str,
    category: str | None,
    message: str,
    submission_id: str,
) -> Submission:
    """Create (once per submission_id) the customer message, its conversation and a ticket."""
    provider_id = f"{inbox.kind}:{submission_id}"[:500]
    existing = session.scalar(
        select(InboundEvent).where(InboundEvent.inbox_id == inbox.id, InboundEvent.provider_id == provider_id)
    )
    if existing is not None and existing.message_id is not None:
        msg = session.get(Message, existing.message_id)
        conv = session.get(Conversation, msg.conversation_id) if msg else None
        ticket = session.get(Ticket, conv.ticket_id) if conv and conv.ticket_id else None
        if msg is not None and conv is not None and ticket is not None:
            return Submission(conv, ticket, msg)  # a double-submitted form creates nothing new
    # The typed contact files the ticket under its customer (agents see their history), but it proves nothing: the
    # widget visitor never gains that customer's identity, or their chat would be told that customer's tickets
    # (kefu.customers.claims decides who a visitor is).
    customer = _customer(session, inbox.brand_id, name, contact)
    subject = (message.strip().splitlines() or [""])[0][:80] or brand_text(session, inbox.brand_id, "subj_board")
    conv = create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": inbox.brand_id,
                "customer_id": customer.id,
                "channel": inbox.kind,
                "inbox_id": inbox.id,
                "subject": subject,
                "external_thread_id": provider_id,
            },
        ),
        actor=None,
    )
    msg, _ = add_message(
        session,
        conv,
        sender_type="customer",
        body=message,
        meta={"inbox_id": inbox.id, "contact": contact, "name": name, "category": category},
        provider_message_id=provider_id,
    )
    ticket = ensure_case(session, conv, msg, category=category or None, requested=True)
    assert ticket is not None  # a requested case always opens
    session.add(
        InboundEvent(
            brand_id=inbox.brand_id,
            inbox_id=inbox.id,
            channel=inbox.kind,
            provider_id=provider_id,
            status="processed",
            payload={"name": name, "contact": contact, "category": category, "message": message},
            attempts=1,
            conversation_id=conv.id,
            message_id=msg.id,
        )
    )
    session.flush()
    announce_inbound(session, inbox, conv, msg, True)
    return Submission(conv, ticket, msg)
