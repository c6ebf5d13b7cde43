"""Conversation and message bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.conversations.commands import ConversationFields, PostMessage, UpdateConversation


class ConversationCreate(ConversationFields):
    """New conversation (e.g. an agent starting an outbound thread or a phone log)."""

    model_config = ConfigDict(extra="ignore")  # the public API keeps ignoring unknown fields


class ConversationUpdate(UpdateConversation):
    """Partial conversation change."""

    model_config = ConfigDict(extra="ignore")


class ConversationOut(BaseModel):
    """A conversation."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    inbox_id: int | None
    customer_id: int
    channel: str
    status: str
    subject: str | None
    assignee_id: int | None
    team_id: int | None
    ticket_id: int | None
    last_message_at: datetime
    created_at: datetime


class MessageCreate(PostMessage):
    """An agent reply or internal note."""

    model_config = ConfigDict(extra="ignore")


class MessageOut(BaseModel):
    """A message."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    channel: str
    sender_type: str
    agent_id: int | None
    is_note: bool
    body: str
    content_type: str
    attachments: list[Any]
    created_at: datetime


class MessagePage(BaseModel):
    """Messages oldest-first after a given id (clients resume with the last id they saw)."""

    items: list[MessageOut]
    next_after_id: int | None


class TimelineItem(MessageOut):
    """A message in the customer's cross-channel timeline."""

    conversation_channel: str
