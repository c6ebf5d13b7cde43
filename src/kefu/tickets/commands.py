"""One validated command per ticket use case (create, update, assign, status change).

The API bodies are these models (kefu.tickets.schemas subclasses them), the console forms build them with `build`,
and the service validates any plain dict it receives into them, so no path can store a value outside the closed
sets (status, priority, channel) or skip the length limits.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure
from kefu.core.enums import ChannelKind
from kefu.tickets.models import FIELD_TYPES, TicketPriority, TicketStatus

FIELD_TYPE_PATTERN = "^(" + "|".join(FIELD_TYPES) + ")$"
KEY_PATTERN = "^[a-z][a-z0-9_]{0,63}$"

__all__ = [
    "AssignTicket",
    "ChangeTicketStatus",
    "CreateCategory",
    "CreateFieldDefinition",
    "CreateTicket",
    "TicketComment",
    "UpdateCategory",
    "UpdateFieldDefinition",
    "UpdateTicket",
    "build",
    "changes_of",
    "ensure",
]


class TicketComment(BaseModel):
    """The ticket's first timeline entry, written with it (like Zendesk's `comment` on create)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=20_000)
    public: bool = True  # a public update the customer sees (and the ticket's first response); False: internal note


class CreateTicket(BaseModel):
    """New ticket; without a priority the routing rules and SLA policy decide it (default normal)."""

    model_config = ConfigDict(extra="forbid")

    brand_id: int
    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    customer_id: int | None = None
    priority: TicketPriority | None = None
    category: str | None = Field(default=None, max_length=64)
    channel: ChannelKind = ChannelKind.API
    team_id: int | None = None
    assignee_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    conversation_id: int | None = None
    language: str | None = Field(default=None, max_length=16)
    # One request for ticket + first message: the same timeline entry, first-response time, audit row and
    # `ticket.comment` event as POST /tickets/{id}/activities right after the create, in the same transaction.
    comment: TicketComment | None = None


class UpdateTicket(BaseModel):
    """Partial ticket change; only the fields that were set apply; `custom_fields` merges (null removes a field)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=500)
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    category: str | None = Field(default=None, max_length=64)
    team_id: int | None = None
    assignee_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    custom_fields: dict[str, Any] | None = None
    language: str | None = Field(default=None, max_length=16)


class AssignTicket(BaseModel):
    """Hand a ticket to an agent and/or team (None unassigns)."""

    model_config = ConfigDict(extra="forbid")

    assignee_id: int | None = None
    team_id: int | None = None


class ChangeTicketStatus(BaseModel):
    """Move a ticket through its lifecycle (transition rules in kefu.tickets.service.TRANSITIONS)."""

    model_config = ConfigDict(extra="forbid")

    status: TicketStatus
    priority: TicketPriority | None = None  # the console side panel changes both at once


class CreateCategory(BaseModel):
    """A new category."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    key: str = Field(pattern=KEY_PATTERN)
    label_zh: str = Field(min_length=1, max_length=200)
    label_en: str = Field(min_length=1, max_length=200)
    parent_key: str | None = Field(default=None, max_length=64)
    keywords: list[str] = Field(default_factory=list, max_length=500)
    position: int = 0
    is_active: bool = True


class UpdateCategory(BaseModel):
    """Category changes (the key is permanent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_zh: str | None = Field(default=None, min_length=1, max_length=200)
    label_en: str | None = Field(default=None, min_length=1, max_length=200)
    parent_key: str | None = Field(default=None, max_length=64)
    keywords: list[str] | None = Field(default=None, max_length=500)
    position: int | None = None
    is_active: bool | None = None


class CreateFieldDefinition(BaseModel):
    """A new custom field: validation keys min, max, min_length, max_length, pattern."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    key: str = Field(pattern=KEY_PATTERN)
    label_zh: str = Field(min_length=1, max_length=200)
    label_en: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern=FIELD_TYPE_PATTERN)
    required: bool = False
    options: list[str] = Field(default_factory=list, max_length=500)
    validation: dict[str, Any] = Field(default_factory=dict)
    position: int = 0
    is_active: bool = True


class UpdateFieldDefinition(BaseModel):
    """Field definition changes (key and type are permanent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_zh: str | None = Field(default=None, min_length=1, max_length=200)
    label_en: str | None = Field(default=None, min_length=1, max_length=200)
    required: bool | None = None
    options: list[str] | None = Field(default=None, max_length=500)
    validation: dict[str, Any] | None = None
    position: int | None = None
    is_active: bool | None = None
