"""Shift schedule admin API: a team's weekly shifts, leave and extra shifts, and who is on shift."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Response

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.shifts import service
from kefu.shifts.models import ShiftException
from kefu.shifts.schemas import (
    CoverageOut,
    ExceptionIn,
    ExceptionOut,
    OnShiftOut,
    PatternOut,
    PatternsIn,
    ScheduleOut,
)
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["shifts"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Manage = Annotated[Principal, Depends(require("teams:manage"))]


def _exception_out(e: ShiftException) -> ExceptionOut:
    return ExceptionOut(
        id=e.id,
        agent_id=e.agent_id,
        day=e.day,
        available=e.available,
        start=service.hhmm(e.start_minute) if e.start_minute is not None else None,
        end=service.hhmm(e.end_minute) if e.end_minute is not None else None,
        note=e.note,
    )


def _clock(minutes: int | None) -> str | None:
    return service.hhmm(minutes % service.DAY) if minutes is not None else None


def _schedule(db: DB, team_id: int, principal: Principal) -> ScheduleOut:
    team = service.get_team(db, team_id, principal)
    patterns, exceptions = service.schedule(db, team)
    brand = db.get(Brand, team.brand_id)
    return ScheduleOut(
        team_id=team.id,
        timezone=(brand.timezone if brand else None) or "Asia/Taipei",
        shifts=[
            PatternOut(
                id=p.id,
                agent_id=p.agent_id,
                weekday=p.weekday,
                start=service.hhmm(p.start_minute),
                end=service.hhmm(p.end_minute),
                break_start=_clock(p.break_start_minute),
                break_end=_clock(p.break_end_minute),
            )
            for p in patterns
        ],
        exceptions=[_exception_out(e) for e in exceptions],
    )


@router.get("/teams/{team_id}/shifts", response_model=ScheduleOut)
def get_schedule(team_id: int, db: DB, principal: Read) -> ScheduleOut:
    """The team's weekly shifts and upcoming exceptions (local times)."""
    return _schedule(db, team_id, principal)


@router.put("/teams/{team_id}/shifts", response_model=ScheduleOut)
def put_schedule(team_id: int, body: PatternsIn, db: DB, principal: Manage) -> ScheduleOut:
    """Replace the team's weekly shifts (an empty list: no schedule, availability alone decides)."""
    team = service.get_team(db, team_id, principal)
    patterns = [
        service.PatternIn(
            s.agent_id,
            s.weekday,
            service.parse_hhmm(s.start),
            service.parse_hhmm(s.end),
            service.parse_hhmm(s.break_start) if s.break_start else None,
            service.parse_hhmm(s.break_end) if s.break_end else None,
        )
        for s in body.shifts
    ]
    service.set_patterns(db, team, patterns, principal)
    return _schedule(db, team_id, principal)


@router.post("/teams/{team_id}/shift-exceptions", response_model=ExceptionOut, status_code=201)
def add_exception(team_id: int, body: ExceptionIn, db: DB, principal: Manage) -> ExceptionOut:
    """Leave or an extra shift for one agent on one day."""
    team = service.get_team(db, team_id, principal)
    row = service.add_exception(
        db,
        team,
        principal,
        agent_id=body.agent_id,
        day=body.day,
        available=body.available,
        start_minute=service.parse_hhmm(body.start) if body.start else None,
        end_minute=service.parse_hhmm(body.end) if body.end else None,
        note=body.note,
    )
    return _exception_out(row)


@router.delete("/shift-exceptions/{exception_id}", status_code=204)
def delete_exception(exception_id: int, db: DB, principal: Manage) -> Response:
    """Remove an exception."""
    service.delete_exception(db, exception_id, principal)
    return Response(status_code=204)


@router.get("/teams/{team_id}/on-shift", response_model=OnShiftOut)
def on_shift(team_id: int, db: DB, principal: Read, at: datetime | None = None) -> OnShiftOut:
    """Agents of the team on shift at `at` (default now)."""
    service.get_team(db, team_id, principal)
    if at is not None and at.tzinfo is None:
        raise InvalidInput.said("err_shifts_at_needs_offset")
    when = at or utcnow()
    agents = service.team_on_shift(db, team_id, when)
    return OnShiftOut(team_id=team_id, at=when, scheduled=agents is not None, agent_ids=sorted(agents or ()))


@router.get("/teams/{team_id}/coverage", response_model=CoverageOut)
def team_coverage(
    team_id: int,
    db: DB,
    principal: Read,
    start: date | None = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    step_minutes: Annotated[int, Query()] = 30,
) -> CoverageOut:
    """24-hour coverage of the team's local days from `start` (default today): counts, gaps, overtime."""
    team = service.get_team(db, team_id, principal)
    brand = db.get(Brand, team.brand_id)
    first = start or utcnow().astimezone(ZoneInfo((brand.timezone if brand else None) or "Asia/Taipei")).date()
    cov = service.coverage(db, team, first, days, step_minutes)
    return CoverageOut(team_id=team.id, **cov.__dict__)
