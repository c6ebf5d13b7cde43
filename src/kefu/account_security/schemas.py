"""API shapes of the security ladder."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kefu.account_security.commands import RecordStep, RequestFreeze, SaveFreezeHook


class StepIn(RecordStep):
    """Record a step: intervene, freeze, identity_verified or repaired (in that order)."""


class FreezeIn(RequestFreeze):
    """Ask the brand's system to freeze the account temporarily."""


class HookIn(SaveFreezeHook):
    """The brand's freeze webhook."""


class StepRecordOut(BaseModel):
    """A recorded step."""

    model_config = ConfigDict(from_attributes=True)

    step: str
    at: datetime
    agent_id: int | None
    source: str
    note: str
    created_at: datetime


class LadderStepOut(BaseModel):
    """One step of a case's ladder: its deadline, SLA status and record."""

    step: str
    due_at: datetime | None
    status: str | None
    recorded: StepRecordOut | None


class FreezeRequestOut(BaseModel):
    """A freeze request sent (or being sent) to the brand's webhook."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    requested_by: int | None
    requested_at: datetime
    status: str
    attempts: int
    response_status: int | None
    delivered_at: datetime | None
    last_error: str


class LadderOut(BaseModel):
    """The ladder of a case."""

    ticket_id: int
    number: str
    category: str | None
    steps: list[LadderStepOut]
    freeze_requests: list[FreezeRequestOut]


class HookOut(BaseModel):
    """A brand's freeze webhook (the secret is never returned)."""

    model_config = ConfigDict(from_attributes=True)

    brand_id: int
    url: str
    is_active: bool
    updated_at: datetime
