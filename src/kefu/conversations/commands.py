"""One validated command per conversation use case (start, update, agent reply).

The API bodies subclass these models (kefu.conversations.schemas), the console form's dict and every internal caller
(channels, bot, demo) go through them in the service, so a status or channel outside its closed set, an unknown
field or an over-long subject is a 422 problem wherever it comes from.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kefu.conversations.models import ConversationStatus
from kefu.core.commands import build, changes_of, ensure
from kefu.core.enums import ChannelKind

__all__ = [
    "ConversationFields",
    "CreateConversation",
    "PostMessage",
    "UpdateConversation",
    "build",
    "changes_of",
    "ensure",
]


class ConversationFields(BaseModel):
    """What anyone starting a conversation gives (the API body is exactly this)."""

    model_config = ConfigDict(extra="forbid")

    brand_id: int
    customer_id: int
    channel: ChannelKind = ChannelKind.API
    inbox_id: int | None = None
    subject: str | None = Field(default=None, max_length=500)
    status: ConversationStatus = ConversationStatus.OPEN


class CreateConversation(ConversationFields):
    """Start a conversation with a customer (an agent's outbound thread, a phone log, an inbound channel thread)."""

    # The provider's thread id: set by channels only (inbound replies are matched to a conversation by it).
    external_thread_id: str | None = Field(default=None, max_length=500)


class UpdateConversation(BaseModel):
    """Partial change: only the fields that were set apply; a null status or subject is ignored, null ids unassign."""

    model_config = ConfigDict(extra="forbid")

    status: ConversationStatus | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    subject: str | None = Field(default=None, max_length=500)


class PostMessage(BaseModel):
    """An agent's reply to the customer or internal note."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)
    is_note: bool = False
