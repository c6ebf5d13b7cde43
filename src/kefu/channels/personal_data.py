"""Personal data in channel plumbing: raw inbound payloads, outbox recipients and payloads, stored files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.channels.models import ChannelAttachment, InboundEvent, OutboxMessage
from kefu.conversations.models import Conversation
from kefu.privacy.contract import PersonalData


def _conversations(ids: list[int]) -> Select[Any]:
    return select(Conversation.id).where(Conversation.customer_id.in_(ids))


DECLARATIONS = [
    PersonalData(
        InboundEvent,
        {"payload": "secret_json", "last_error": "text"},
        owned_by=lambda ids: select(InboundEvent).where(InboundEvent.conversation_id.in_(_conversations(ids))),
    ),
    PersonalData(
        OutboxMessage,
        {"recipient": "contact", "payload": "secret_json", "last_error": "text"},
        owned_by=lambda ids: select(OutboxMessage).where(OutboxMessage.conversation_id.in_(_conversations(ids))),
    ),
    PersonalData(
        ChannelAttachment,
        {"filename": "text", "path": "file"},
        owned_by=lambda ids: select(ChannelAttachment).where(
            ChannelAttachment.conversation_id.in_(_conversations(ids))
        ),
        erase="delete",
    ),
]
