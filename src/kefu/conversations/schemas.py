"""Conversation and message bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.conversations.models import CONVERSATION_STATUSES

STATUS_PATTERN = "^(" + "|".join(CONVERSATION_STATUSES) + ")$"


class ConversationCreate(BaseModel):
    """New conversation (e.g. an agent starting an outbound thread or a phone log)."""

    brand_id: int
    customer_id: int
    channel: str = Field(default="api", max_length=32)
    inbox_id: int | None = None
    subject: str | None = Field(default=None, max_length=500)
    status: str = Field(default="open", pattern=STATUS_PATTERN)


class ConversationUpdate(BaseModel):
    """Partial conversation change."""

    status: str | None = Field(default=None, pattern=STATUS_PATTERN)
    assignee_id: int | None = None
    team_id: int | None = None
    subject: str | None = Field(default=None, max_length=500)


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


class MessageCreate(BaseModel):
    """An agent reply or internal note."""

    body: str = Field(min_length=1, max_length=100_000)
    is_note: bool = False


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
