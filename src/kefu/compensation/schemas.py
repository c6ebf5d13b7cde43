"""Compensation ledger bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CompensationOut(BaseModel):
    """One ledger entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    customer_id: int
    ticket_id: int | None
    broadcast_id: int | None
    reason: str
    basis_minutes: int
    factor: float
    amount: int
    unit: str
    status: str
    note: str
    decision_note: str
    created_by: int | None
    approved_by: int | None
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


class ManualIn(BaseModel):
    """A handling error found by a lead: the customer, the case, the service time it cost and what went wrong."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int
    ticket_id: int | None = None
    basis_minutes: int
    note: str = Field(min_length=1, max_length=500)


class DecisionIn(BaseModel):
    """An optional note (the reason, required to reject)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class OutageIn(BaseModel):
    """The outage's length, when the notice's time window does not give it."""

    model_config = ConfigDict(extra="forbid")

    outage_minutes: int | None = None


class TotalOut(BaseModel):
    """Entries and their summed amount for one status and unit."""

    status: str
    unit: str
    entries: int
    amount: int
