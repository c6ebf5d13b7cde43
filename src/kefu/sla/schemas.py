"""SLA, escalation and notification bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.sla.calendar import CalendarConfig
from kefu.sla.policy import SlaPolicy


class PolicyIn(BaseModel):
    """A policy for a brand (see kefu.sla.policy for matching and clock rules)."""

    brand_id: int
    policy: SlaPolicy
    position: int | None = None
    is_active: bool = True


class PolicyUpdate(BaseModel):
    """Policy changes."""

    policy: SlaPolicy | None = None
    position: int | None = None
    is_active: bool | None = None


class PolicyOut(BaseModel):
    """A stored policy."""

    id: int
    brand_id: int
    name: str
    position: int
    is_active: bool
    policy: dict[str, Any]
    # Why a stored policy does not parse (it is skipped when tickets are matched until it is saved again).
    problem: str | None = None


class CalendarIn(BaseModel):
    """A named business calendar for a brand, or a team override of one."""

    brand_id: int
    team_id: int | None = None
    config: CalendarConfig


class CalendarOut(BaseModel):
    """A stored calendar."""

    id: int
    brand_id: int
    team_id: int | None
    name: str
    config: dict[str, Any]


class DefaultsIn(BaseModel):
    """Brand to install the seed configuration into."""

    brand_id: int
    routing: bool = True
    categories: bool = True


class DefaultsOut(BaseModel):
    """What was added."""

    calendars: int
    policies: int
    categories: int = 0
    routing_rules: int = 0
    team_routing: int = 0


class ContactIn(BaseModel):
    """An escalation contact: level name (team_lead, qa_supervisor, director, general_manager…)."""

    level: str = Field(min_length=1, max_length=32)
    agent_id: int
    team_id: int | None = None


class ContactsIn(BaseModel):
    """A brand's escalation contacts (replaces the list)."""

    brand_id: int
    contacts: list[ContactIn] = Field(max_length=200)


class ContactOut(BaseModel):
    """An escalation contact."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    level: str
    agent_id: int
    team_id: int | None


class TargetOut(BaseModel):
    """One SLA target of a ticket."""

    model_config = ConfigDict(from_attributes=True)

    ticket_id: int
    key: str
    kind: str
    label: str | None
    business: bool
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    met_at: datetime | None
    status: str
    warned_at: datetime | None
    breached_at: datetime | None
    escalation_level: int


class TicketSlaOut(BaseModel):
    """A ticket's SLA state."""

    ticket_id: int
    policy_name: str | None
    status: str | None
    breached: bool
    escalation_level: int
    escalation_name: str | None
    next_check_at: datetime | None
    targets: list[TargetOut]


class SweepOut(BaseModel):
    """Counts of one sweep run."""

    checked: int
    warned: int
    breached: int
    escalated: int
    notifications: int


class NotificationOut(BaseModel):
    """A notification."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int | None
    kind: str
    title: str
    body: str
    ticket_id: int | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class HolidaySetOut(BaseModel):
    """A holiday set: where its dates come from, which years have make-up workdays, which still need overrides."""

    name: str
    timezone: str
    source: str
    first_year: int | None
    last_year: int | None
    makeup_years: list[int]
    missing_makeup_years: list[int]
