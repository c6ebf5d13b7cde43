"""Follow-up API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RuleIn(BaseModel):
    """A follow-up rule: after resolution of matching cases, `attempts` contacts within `within_days`."""

    model_config = ConfigDict(extra="forbid")

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    attempts: int = Field(default=1, ge=1, le=10)
    within_days: int = Field(default=7, ge=1, le=90)
    first_after_hours: int = Field(default=24, ge=0, le=24 * 90)
    stop_when_reached: bool = False
    is_active: bool = True


class RuleOut(RuleIn):
    """A stored rule."""

    model_config = ConfigDict(from_attributes=True)

    id: int


class FollowUpOut(BaseModel):
    """One planned follow-up contact and its case."""

    id: int
    brand_id: int
    ticket_id: int
    ticket_number: str
    subject: str
    customer_id: int | None
    attempt: int
    of_attempts: int
    assignee_id: int | None
    due_at: datetime
    status: str
    outcome: str | None
    note: str
    done_at: datetime | None


class FollowUpPage(BaseModel):
    """A queue page."""

    items: list[FollowUpOut]


class OutcomeIn(BaseModel):
    """How the contact went."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "not_reached", "reopened"]
    note: str = Field(default="", max_length=4000)
