"""Follow-up API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.followups.commands import CreateFollowUpRule


class RuleIn(CreateFollowUpRule):
    """A follow-up rule: after resolution of matching cases, `attempts` contacts within `within_days`."""


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
