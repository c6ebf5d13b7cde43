"""Complaint and regulator-case bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.complaints.commands import LEVEL_PATTERN, EvidenceRef, UpdateComplaint, UpdateRegulatorCase


class ComplaintIn(BaseModel):
    """The complaint SOP form."""

    brand_id: int
    level: str = Field(default="normal", pattern=LEVEL_PATTERN)
    complainant_name: str = Field(min_length=1, max_length=200)
    complainant_contact: str = Field(default="", max_length=320)
    channel: str = Field(min_length=1, max_length=32)
    product: str = Field(default="", max_length=500)
    order_number: str = Field(default="", max_length=100)
    description: str = Field(min_length=1, max_length=50_000)
    requested_remedy: str = Field(default="", max_length=10_000)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=50)
    customer_id: int | None = None
    subject: str | None = Field(default=None, max_length=500)
    received_at: datetime | None = None


class ComplaintUpdate(UpdateComplaint):
    """Form corrections or a level change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class MessageIn(BaseModel):
    """A message to the complainant, with an optional time it was actually sent."""

    message: str = Field(min_length=1, max_length=20_000)
    at: datetime | None = None


class TaskForceIn(BaseModel):
    """Members of the task force."""

    members: list[int] = Field(default_factory=list, max_length=50)
    at: datetime | None = None


class CloseIn(BaseModel):
    """The outcome."""

    outcome: str = Field(default="", max_length=20_000)


class ComplaintOut(BaseModel):
    """A complaint."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    ticket_id: int
    level: str
    status: str
    complainant_name: str
    complainant_contact: str
    channel: str
    product: str
    order_number: str
    description: str
    requested_remedy: str
    evidence: list[dict[str, Any]]
    outcome: str
    received_at: datetime
    acknowledge_due_at: datetime
    reply_due_at: datetime
    acknowledged_at: datetime | None
    replied_at: datetime | None
    task_force_formed_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


class RegulatorCaseIn(BaseModel):
    """An official letter from a government agency / consumer-protection officer."""

    brand_id: int
    agency: str = Field(min_length=1, max_length=200)
    reference_no: str = Field(default="", max_length=100)
    subject: str = Field(min_length=1, max_length=500)
    summary: str = Field(default="", max_length=50_000)
    received_at: datetime
    coordination_meeting: bool = False
    meeting_at: datetime | None = None
    customer_id: int | None = None
    complaint_id: int | None = None


class RegulatorCaseUpdate(UpdateRegulatorCase):
    """Case changes."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class RegulatorCaseOut(BaseModel):
    """A regulator case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    ticket_id: int
    agency: str
    reference_no: str
    subject: str
    summary: str
    status: str
    coordination_meeting: bool
    meeting_at: datetime | None
    received_at: datetime
    due_at: datetime
    replied_at: datetime | None
    closed_at: datetime | None
    complaint_id: int | None


class MonthStatsOut(BaseModel):
    """On-time statistics for a month (or the year)."""

    month: str
    received: int
    with_meeting: int
    replied: int
    on_time: int
    late: int
    overdue_open: int
    pending: int
    on_time_rate: float | None


class RegulatorStatsOut(BaseModel):
    """Per-month and yearly on-time statistics."""

    brand_id: int
    year: int
    deadline_days: int
    months: list[MonthStatsOut]
    total: MonthStatsOut
