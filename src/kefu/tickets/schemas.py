"""Ticket bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.tickets.models import PRIORITIES, TICKET_STATUSES

STATUS_PATTERN = "^(" + "|".join(TICKET_STATUSES) + ")$"
PRIORITY_PATTERN = "^(" + "|".join(PRIORITIES) + ")$"


class TicketCreate(BaseModel):
    """New ticket."""

    brand_id: int
    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    customer_id: int | None = None
    priority: str = Field(default="normal", pattern=PRIORITY_PATTERN)
    category: str | None = Field(default=None, max_length=64)
    channel: str = Field(default="api", max_length=32)
    team_id: int | None = None
    assignee_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    conversation_id: int | None = None


class TicketUpdate(BaseModel):
    """Partial ticket change."""

    subject: str | None = Field(default=None, min_length=1, max_length=500)
    status: str | None = Field(default=None, pattern=STATUS_PATTERN)
    priority: str | None = Field(default=None, pattern=PRIORITY_PATTERN)
    category: str | None = Field(default=None, max_length=64)
    team_id: int | None = None
    assignee_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    custom_fields: dict[str, Any] | None = None


class TicketOut(BaseModel):
    """A ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    number: str
    subject: str
    description: str
    status: str
    priority: str
    category: str | None
    channel: str
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
