"""Shift schedule API shapes (times are HH:MM in the brand's timezone)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class PatternBody(BaseModel):
    """One weekly shift: weekday 0 (Monday) to 6, start and end as HH:MM; an end before the start runs overnight."""

    model_config = ConfigDict(extra="forbid")

    agent_id: int
    weekday: int = Field(ge=0, le=6)
    start: str = Field(pattern=r"^\d{1,2}:\d{2}$")
    end: str = Field(pattern=r"^\d{1,2}:\d{2}$")
    break_start: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")
    break_end: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")


class PatternOut(PatternBody):
    """A stored weekly shift."""

    id: int


class PatternsIn(BaseModel):
    """The team's whole weekly schedule (replaces the previous one)."""

    model_config = ConfigDict(extra="forbid")

    shifts: list[PatternBody] = Field(max_length=2000)


class ExceptionIn(BaseModel):
    """Leave (available false) or an extra shift (true) on a local day; leave without times is the whole day."""

    model_config = ConfigDict(extra="forbid")

    agent_id: int
    day: date
    available: bool
    start: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")
    end: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}$")
    note: str = Field(default="", max_length=500)


class ExceptionOut(BaseModel):
    """A stored exception."""

    id: int
    agent_id: int
    day: date
    available: bool
    start: str | None
    end: str | None
    note: str


class ScheduleOut(BaseModel):
    """A team's schedule."""

    team_id: int
    timezone: str
    shifts: list[PatternOut]
    exceptions: list[ExceptionOut]


class OnShiftOut(BaseModel):
    """Who is on shift at an instant (`scheduled` false: the team keeps no schedule, availability decides)."""

    team_id: int
    at: datetime
    scheduled: bool
    agent_ids: list[int]


class CoverageOut(BaseModel):
    """Staffing per step of each local day, uncovered stretches, minutes worked and overtime per agent.

    Overtime: extra shifts outside the weekly schedule plus scheduled work beyond the brand's normal day.
    """

    team_id: int
    timezone: str
    step_minutes: int
    counts: dict[str, list[int]]
    gaps: list[tuple[str, str]]
    overtime_minutes: dict[int, int]
    worked_minutes: dict[int, int]
    minimum_on_shift: int
    short: list[tuple[str, str]] | None
