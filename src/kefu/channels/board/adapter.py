"""Message board adapter and reply delivery.

A board post has no channel to answer on, so replies are delivered where the customer can read them: by email
through the brand's email inbox when the post left an email address (threaded with the case number in the
subject), else in the case's progress thread on the portal (a public update). With neither, the reply is refused
with a clear error instead of being stored as if it had been sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.base import ChannelAdapter, register
from kefu.channels.types import InboundMessage
from kefu.conversations import service as conversations
from kefu.core.addresses import is_email

if TYPE_CHECKING:
    from kefu.conversations.models import Conversation, Message


@register
class BoardAdapter(ChannelAdapter):
    """Public message board / contact form."""

    kind = "board"
    identity_kind = "board"
    can_send = False  # replies go out by email or the portal (deliver_reply), never through this adapter

    def thread_key(self, msg: InboundMessage) -> str:
        """Every post is its own case."""
        return f"post:{msg.provider_message_id}"


def post_email(session: Session, conv: Conversation) -> str | None:
    """The email address the customer left on the post, if any."""
    from kefu.conversations.models import Message

    first = session.scalar(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.sender_type == "customer")
        .order_by(Message.id)
        .limit(1)
    )
    contact = str((first.meta or {}).get("contact") or "").strip().lower() if first is not None else ""
    return contact if is_email(contact) else None


def deliver_reply(session: Session, conv: Conversation, message: Message) -> str:
    """Send a board reply by email, else post it to the portal progress thread; returns "email" or "portal"."""
    from kefu.brands.models import Inbox
    from kefu.channels import outbox
    from kefu.channels.base import get_adapter
    from kefu.core.errors import Conflict
    from kefu.tickets.models import Ticket
    from kefu.tickets.timeline import add_activity

    address = post_email(session, conv)
    mailbox = None
    if address is not None:
        mailbox = session.scalar(
            select(Inbox)
            .where(Inbox.brand_id == conv.brand_id, Inbox.kind == "email", Inbox.is_active.is_(True))
            .order_by(Inbox.id)
            .limit(1)
        )
    email = get_adapter("email")
    if address is not None and mailbox is not None and email is not None:
        payload = email.prepare(session, mailbox, conv, message)
        key = payload.pop("idempotency_key", None)
        outbox.queue(
            session,
            inbox=mailbox,
            recipient=address,
            payload=payload,
            conversation=conv,
            message=message,
            idempotency_key=key,
        )
        return "email"
    ticket = session.get(Ticket, conv.ticket_id) if conv.ticket_id is not None else None
    if ticket is None:
        raise Conflict.said("uix_board_no_reply")
    add_activity(session, ticket, "reply", body=message.body, public=True, agent_id=message.agent_id)
    message.meta = {**(message.meta or {}), "delivery": {"status": "portal", "ticket_id": ticket.id}}
    session.flush()
    return "portal"


def _hook(session: Session, conv: Conversation, message: Message) -> None:
    if conv.channel == "board" and not message.is_note:
        deliver_reply(session, conv, message)


# Registered once, at import (adapters load before any reply is queued).
if not any(getattr(h, "__module__", "") == __name__ for h in conversations.outbound_hooks):
    conversations.outbound_hooks.append(_hook)
