"""Leave-a-message: one public submission becomes a customer message, a conversation and a ticket."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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
    # False when the same form was submitted again and this is the first result: callers add nothing to it (files).
    created: bool = True


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


def _replay(session: Session, event: InboundEvent, payload: dict[str, Any]) -> Submission | None:
    """The earlier result when `event` recorded this very submission (same name, contact, category and message)."""
    if event.payload != payload or event.message_id is None:
        return None
    msg = session.get(Message, event.message_id)
    conv = session.get(Conversation, msg.conversation_id) if msg else None
    ticket = session.get(Ticket, conv.ticket_id) if conv and conv.ticket_id else None
    if msg is None or conv is None or ticket is None:
        return None
    return Submission(conv, ticket, msg, created=False)


def _provider_id(session: Session, inbox: Inbox, submission_id: str, payload: dict[str, Any]) -> str | Submission:
    """The id to file a submission under, or the earlier result when this very submission was filed already."""
    # A different post must never be filed under an id another post holds: the provider id is also the conversation's
    # thread id, and a thread's earlier case is reopened for its next conversation (kefu.tickets.intake). Another
    # post's id gives way to one derived from the id and the content, so this post's own double submit is still
    # recognised; when even that is held (by a post that can no longer be returned), to a random one.
    base = f"{inbox.kind}:{submission_id}"[:500]
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    derived = f"{base[:467]}:{hashlib.sha256(canonical).hexdigest()[:32]}"
    for candidate in (base, derived):
        event = session.scalar(
            select(InboundEvent).where(InboundEvent.inbox_id == inbox.id, InboundEvent.provider_id == candidate)
        )
        if event is None:
            return candidate
        replay = _replay(session, event, payload)
        if replay is not None:
            return replay
    return f"{inbox.kind}:{secrets.token_hex(16)}"


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
    """Create (once per submission: the same id and content) the customer message, its conversation and a ticket."""
    # The client picks `submission_id`: the same id with other content is someone else's post, filed under a fresh
    # id, which neither returns nor touches the first post.
    payload: dict[str, Any] = {"name": name, "contact": contact, "category": category, "message": message}
    # Two identical posts racing (a double tap, a retried request) both miss the lookup; the loser's insert meets the
    # winner's unique provider id (or the new customer's identity) once the winner commits. Its savepoint rolls back
    # and the lookup, run again, finds the winner's post and answers with it: the same ticket, nothing stored twice.
    for attempt in (1, 2, 3):
        provider_id = _provider_id(session, inbox, submission_id, payload)
        if not isinstance(provider_id, str):
            return provider_id  # a double-submitted form creates nothing new
        try:
            with session.begin_nested():
                result = _create(session, inbox, provider_id, payload)
        except IntegrityError:
            if attempt == 3:
                raise
            continue
        announce_inbound(session, inbox, result.conversation, result.message, True)
        return result
    raise AssertionError("unreachable")


def _create(session: Session, inbox: Inbox, provider_id: str, payload: dict[str, Any]) -> Submission:
    """File the post under `provider_id`: its customer, conversation, first message, ticket and inbound event."""
    name, contact, category, message = payload["name"], payload["contact"], payload["category"], payload["message"]
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
            payload=payload,
            attempts=1,
            conversation_id=conv.id,
            message_id=msg.id,
        )
    )
    session.flush()
    return Submission(conv, ticket, msg)
