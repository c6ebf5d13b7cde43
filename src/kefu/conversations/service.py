"""Conversations and messages: one timeline per customer across channels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import Session, aliased

from kefu.audit.service import record
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.auth.service import ensure_assignable
from kefu.brands.models import Inbox
from kefu.conversations.commands import CreateConversation, PostMessage, UpdateConversation, changes_of, ensure
from kefu.conversations.models import SENDER_TYPES, Conversation, Message
from kefu.core.access import ensure_brand, get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.enums import ChannelKind
from kefu.core.errors import InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.tickets.models import Ticket

# Outbound delivery hooks, registered by kefu.channels.outbox: called inside the transaction for every
# customer-visible agent/bot message, so the channel send is queued atomically with the message itself
# (a committed reply is never lost). A hook list keeps this module free of channel imports.
OutboundHook = Callable[[Session, Conversation, Message], None]
outbound_hooks: list[OutboundHook] = []


def message_event(m: Message) -> dict[str, Any]:
    """Realtime payload for a message."""
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "sender_type": m.sender_type,
        "agent_id": m.agent_id,
        "is_note": m.is_note,
        "body": m.body,
        "content_type": m.content_type,
        "channel": m.channel,
        "attachments": m.attachments,
        "created_at": m.created_at.isoformat(),
    }


def create_conversation(
    session: Session,
    command: CreateConversation | Mapping[str, Any],
    *,
    actor: Principal | None,
) -> Conversation:
    """Start a conversation with a customer (a plain mapping is validated into the command first)."""
    cmd = ensure(CreateConversation, command)
    brand_id, customer_id, inbox_id = cmd.brand_id, cmd.customer_id, cmd.inbox_id
    ensure_brand(actor, brand_id, "Brand")
    ref_in_brand(session, Customer, customer_id, brand_id, "err_core_customer_not_in_brand", customer_id=customer_id)
    if inbox_id is not None:
        ref_in_brand(session, Inbox, inbox_id, brand_id, "err_core_inbox_not_in_brand", inbox_id=inbox_id)
    conv = Conversation(
        brand_id=brand_id,
        customer_id=customer_id,
        channel=cmd.channel,
        inbox_id=inbox_id,
        subject=cmd.subject,
        status=cmd.status,
        external_thread_id=cmd.external_thread_id,
    )
    session.add(conv)
    session.flush()
    publish(
        session,
        "conversation.created",
        {"id": conv.id, "customer_id": customer_id, "channel": cmd.channel.value},
        (f"brand:{brand_id}", f"conversation:{conv.id}", f"customer:{customer_id}"),
    )
    return conv


def get_conversation(session: Session, conversation_id: int, principal: Principal | None) -> Conversation:
    """Conversation by id (404 if missing or not visible)."""
    conv = get_in_brand(session, Conversation, conversation_id, principal, f"Conversation {conversation_id}")
    return conv


def get_conversation_and_inbox(
    session: Session, conversation_id: int, principal: Principal | None
) -> tuple[Conversation, Inbox | None]:
    """`get_conversation` with its inbox in the same query (a reply's outbound hook reads the inbox).

    The session's identity map holds objects weakly: keep the returned inbox referenced while replying, so the
    hook's `session.get(Inbox, …)` finds it there instead of asking the database again.
    """
    row = session.execute(
        select(Conversation, Inbox)
        .outerjoin(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.id == conversation_id)
    ).first()
    if row is None:
        raise NotFound.said("err_conversations_not_found")  # the same answer as another brand's conversation
    conv, inbox = row
    ensure_brand(principal, conv.brand_id, "Conversation")
    return conv, inbox


def add_message(
    session: Session,
    conv: Conversation,
    *,
    sender_type: str,
    body: str,
    agent_id: int | None = None,
    is_note: bool = False,
    content_type: str = "text",
    attachments: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
    provider_message_id: str | None = None,
    created_at: datetime | None = None,
) -> tuple[Message, bool]:
    """Append a message; a repeated provider id returns the stored one (created=False) instead of a duplicate."""
    if sender_type not in SENDER_TYPES:
        raise InvalidInput.said("err_conversations_unknown_sender_type", sender_type=sender_type)
    if is_note and sender_type == "customer":
        raise InvalidInput.said("err_conversations_customer_note")
    if provider_message_id:
        existing = session.scalar(
            select(Message).where(
                Message.brand_id == conv.brand_id,
                Message.channel == conv.channel,
                Message.provider_message_id == provider_message_id,
            )
        )
        if existing is not None:
            return existing, False
    now = created_at or utcnow()
    msg = Message(
        brand_id=conv.brand_id,
        conversation_id=conv.id,
        channel=conv.channel,
        sender_type=sender_type,
        agent_id=agent_id,
        is_note=is_note,
        body=body,
        content_type=content_type,
        attachments=attachments or [],
        meta=meta or {},
        provider_message_id=provider_message_id,
        created_at=now,
    )
    session.add(msg)
    if not is_note:
        conv.last_message_at = now
        if sender_type == "customer" and conv.status in ("pending", "closed"):
            conv.status = "open"
    if sender_type == "agent" and not is_note and conv.ticket_id is not None:
        ticket = session.get(Ticket, conv.ticket_id)
        if ticket is not None and ticket.first_response_at is None:
            ticket.first_response_at = now
    session.flush()
    if sender_type in ("agent", "bot") and not is_note:
        for hook in outbound_hooks:  # channels: queue delivery to the customer's channel (outbox)
            hook(session, conv, msg)
    topics = [f"brand:{conv.brand_id}", f"conversation:{conv.id}"]
    if not is_note:
        # Customer-facing clients listen here; internal notes never reach this topic.
        topics.append(f"conversation:{conv.id}:public")
    publish(session, "message.created", message_event(msg), tuple(topics))
    return msg, True


def post_message(
    session: Session, conv: Conversation, actor: Principal, command: PostMessage | Mapping[str, Any]
) -> Message:
    """An agent's reply (queued to the customer's channel by the outbound hooks) or internal note."""
    cmd = ensure(PostMessage, command)
    msg, _ = add_message(
        session, conv, sender_type="agent", body=cmd.body, agent_id=actor.agent_id, is_note=cmd.is_note
    )
    return msg


def update_conversation(
    session: Session,
    conv: Conversation,
    actor: Principal | None,
    command: UpdateConversation | Mapping[str, Any],
) -> Conversation:
    """Change status, assignee, team or subject (only the fields the command sets)."""
    changes = changes_of(ensure(UpdateConversation, command))
    if changes.get("assignee_id") is not None:
        ensure_assignable(session, changes["assignee_id"], conv.brand_id)  # same brand, may reply (kefu.auth.service)
    if changes.get("team_id") is not None:
        ref_in_brand(
            session, Team, changes["team_id"], conv.brand_id, "err_core_team_not_in_brand", team_id=changes["team_id"]
        )
    was_closed = conv.status == "closed"
    for key, value in changes.items():
        if key in ("status", "subject") and value is None:
            continue
        setattr(conv, key, value)
    session.flush()
    if conv.status == "closed" and not was_closed:
        from kefu.tickets.intake import conversation_closed  # tickets import conversation models

        conversation_closed(session, conv, actor)
    record(
        session,
        actor,
        "conversation.update",
        target_type="conversation",
        target_id=conv.id,
        brand_id=conv.brand_id,
        details={k: str(v) for k, v in changes.items()},
    )
    publish(
        session,
        "conversation.updated",
        {"id": conv.id, "status": conv.status, "assignee_id": conv.assignee_id, "team_id": conv.team_id},
        (f"brand:{conv.brand_id}", f"conversation:{conv.id}"),
    )
    return conv


def get_message(session: Session, conv: Conversation, message_id: int) -> Message:
    """One message of `conv` (404 when it belongs to another conversation or is gone)."""
    row = session.scalars(select(Message).where(Message.id == message_id, Message.conversation_id == conv.id)).first()
    if row is None:
        raise NotFound.said("err_conversations_message_not_found")
    return row


def list_messages(
    session: Session, conv: Conversation, *, after_id: int | None, limit: int, include_notes: bool = True
) -> tuple[list[Message], int | None]:
    """Messages oldest-first after `after_id` (resume point for reconnecting clients)."""
    stmt = select(Message).where(Message.conversation_id == conv.id)
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id)
    if not include_notes:
        stmt = stmt.where(Message.is_note.is_(False))
    rows = list(session.scalars(stmt.order_by(Message.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def list_conversations(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    status: list[str] | None,
    assignee_id: int | None,
    team_id: int | None,
    customer_id: int | None,
    channel: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Conversation], str | None]:
    """Conversations with the latest activity first."""
    stmt = select(Conversation)
    stmt = scope_to_brands(stmt, Conversation.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Conversation.brand_id == brand_id)
    if status:
        stmt = stmt.where(Conversation.status.in_(status))
    if assignee_id is not None:
        stmt = stmt.where(Conversation.assignee_id == assignee_id)
    if team_id is not None:
        stmt = stmt.where(Conversation.team_id == team_id)
    if customer_id is not None:
        stmt = stmt.where(Conversation.customer_id == customer_id)
    if channel:
        stmt = stmt.where(Conversation.channel == channel)
    return keyset_page(session, stmt, Conversation.last_message_at, Conversation.id, limit=limit, cursor=cursor)


def customer_timeline(
    session: Session, customer: Customer, *, before_id: int | None, limit: int, include_notes: bool
) -> tuple[list[tuple[Message, ChannelKind]], int | None]:
    """Every message with the customer across all channels, newest first (by its time; id breaks ties).

    `before_id` is the last message of the previous page (the cursor stays a message id): the page continues after
    it in (created_at, id) order, its time read in the same statement.
    """
    stmt = (
        select(Message, Conversation.channel)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.customer_id == customer.id)
    )
    if before_id is not None:
        # Ids are not time order across channels (a mail fetched late, an import), so seek on (created_at, id).
        seen = aliased(Message)
        at = select(seen.created_at).where(seen.id == before_id).scalar_subquery()
        # One row-value comparison, not an OR: both databases read it as a range of the messages' (conversation_id,
        # created_at, id) order instead of filtering every message of each conversation.
        stmt = stmt.where(tuple_(Message.created_at, Message.id) < tuple_(at, literal(before_id)))
    if not include_notes:
        stmt = stmt.where(Message.is_note.is_(False))
    order = (Message.created_at.desc(), Message.id.desc())
    rows = [(m, ch) for m, ch in session.execute(stmt.order_by(*order).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)


def attach(session: Session, message: Message, attachments: list[dict[str, Any]]) -> None:
    """Add stored attachments (their descriptions) to a message after it was written."""
    message.attachments = [*(message.attachments or []), *attachments]
    session.flush()
