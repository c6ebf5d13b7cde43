"""Ticket bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.enums import ChannelKind
from kefu.tickets.commands import (
    CreateCategory,
    CreateFieldDefinition,
    CreateTicket,
    UpdateCategory,
    UpdateFieldDefinition,
    UpdateTicket,
)
from kefu.tickets.models import LINK_KINDS, PRIORITIES, TICKET_STATUSES, TicketPriority, TicketStatus

STATUS_PATTERN = "^(" + "|".join(TICKET_STATUSES) + ")$"
PRIORITY_PATTERN = "^(" + "|".join(PRIORITIES) + ")$"
LINK_PATTERN = "^(" + "|".join(LINK_KINDS) + ")$"


class TicketCreate(CreateTicket):
    """New ticket; without a priority the routing rules and SLA policy decide it (default normal)."""

    model_config = ConfigDict(extra="ignore")  # the public API keeps ignoring unknown fields


class TicketUpdate(UpdateTicket):
    """Partial ticket change; `custom_fields` merges (a null value removes a field)."""

    model_config = ConfigDict(extra="ignore")


class TicketOut(BaseModel):
    """A ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    number: str
    subject: str
    description: str
    status: TicketStatus
    priority: TicketPriority
    category: str | None
    channel: ChannelKind
    customer_id: int | None
    organization_id: int | None
    team_id: int | None
    assignee_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    language: str | None = None
    category_source: str | None = None
    category_confidence: float | None = None
    merged_into_id: int | None = None
    last_public_update_at: datetime | None = None
    reopen_count: int = 0


class MergeIn(BaseModel):
    """Tickets to merge into the addressed one."""

    source_ids: list[int] = Field(min_length=1, max_length=50)


class SplitIn(BaseModel):
    """A new child ticket split off the addressed one."""

    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    conversation_ids: list[int] = Field(default_factory=list, max_length=50)
    category: str | None = Field(default=None, max_length=64)


class LinkIn(BaseModel):
    """A link from the addressed ticket (the parent, for parent_child) to another."""

    target_id: int
    kind: str = Field(pattern=LINK_PATTERN)


class LinkOut(BaseModel):
    """A ticket link."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int
    target_id: int
    kind: str
    created_by: int | None
    created_at: datetime


class CommentIn(BaseModel):
    """A public update for the customer, or an internal note."""

    body: str = Field(min_length=1, max_length=20_000)
    public: bool = False


class ActivityOut(BaseModel):
    """A timeline entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    kind: str
    public: bool
    body: str
    data: dict[str, Any]
    agent_id: int | None
    created_at: datetime


class CategoryIn(CreateCategory):
    """A new category."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class CategoryUpdate(UpdateCategory):
    """Category changes (the key is permanent)."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class CategoryOut(BaseModel):
    """A category with bilingual labels."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    key: str
    label_zh: str
    label_en: str
    parent_key: str | None
    keywords: list[str]
    position: int
    is_active: bool


class FieldDefinitionIn(CreateFieldDefinition):
    """A new custom field: validation keys min, max, min_length, max_length, pattern."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class FieldDefinitionUpdate(UpdateFieldDefinition):
    """Field definition changes (key and type are permanent)."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class FieldDefinitionOut(BaseModel):
    """A custom field definition."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    key: str
    label_zh: str
    label_en: str
    type: str
    required: bool
    options: list[str]
    validation: dict[str, Any]
    position: int
    is_active: bool


class ClassifyIn(BaseModel):
    """Text to classify with the brand's classifier."""

    brand_id: int
    text: str = Field(min_length=1, max_length=20_000)


class ClassifyOut(BaseModel):
    """A classification."""

    category: str | None
    confidence: float


class FeedbackOut(BaseModel):
    """An agent's correction of an automatic category."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    ticket_id: int | None
    text: str
    predicted: str | None
    confidence: float | None
    corrected: str
    agent_id: int | None
    created_at: datetime


class ProgressQueryIn(BaseModel):
    """A ticket number and the email or phone given when the ticket was opened."""

    number: str = Field(min_length=3, max_length=32)
    contact: str = Field(min_length=3, max_length=320)


class PublicUpdate(BaseModel):
    """The latest update the customer may see."""

    at: datetime
    body: str
    body_label: dict[str, str] | None = None  # system notes (a merge) written in each locale


class ProgressOut(BaseModel):
    """Customer-safe view of a ticket (no internal notes, assignees or teams)."""

    number: str
    merged_into: str | None
    subject: str
    status: str
    status_label: dict[str, str]
    category: str | None
    category_label: dict[str, str] | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    last_update: PublicUpdate | None
    can_confirm: bool
