"""Console pages for team leads: weekly shifts and breaks per team, leave and extra shifts, 24-hour coverage, overtime.

Forms post with HTMX (the CSRF header) and get the team's whole schedule section back, so the coverage grid and the
overtime table follow every edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from kefu.auth.deps import DB
from kefu.core.errors import Forbidden, InvalidInput, ProblemError
from kefu.shifts import service
from kefu.web.forms import PostedForm, lenient_date
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/shifts")
WEEKDAYS = range(7)


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


@dataclass
class HourCell:
    """One hour of one day in the coverage grid: the fewest agents on shift in it, and whether part of it is bare."""

    hour: int
    least: int
    most: int
    minimum: int = 1

    @property
    def css(self) -> str:
        """Class for the cell: a gap, a partial gap, short of the minimum (or a lone agent) or staffed."""
        if self.most == 0:
            return "cov-gap"
        if self.least == 0:
            return "cov-part"
        return "cov-one" if self.least < max(self.minimum, 2) else "cov-ok"


def grid(cov: service.Coverage) -> list[tuple[date, list[HourCell]]]:
    """Hour cells per day from the coverage counts (steps of `step_minutes`)."""
    per_hour = 60 // cov.step_minutes
    rows = []
    for day, counts in cov.counts.items():
        cells = []
        for hour in range(24):
            chunk = counts[hour * per_hour : (hour + 1) * per_hour]
            cells.append(HourCell(hour, min(chunk), max(chunk), cov.minimum_on_shift))
        rows.append((date.fromisoformat(day), cells))
    return rows


def _section(ctx: PageContext, db: DB, team_id: int, start: date | None, days: int, **extra: object) -> dict[str, Any]:
    team = service.get_team(db, team_id, ctx.principal)
    first = start or service.local_today(db, team)
    view = service.team_view(db, team, first, days)
    names = {a.id: a.name for a in view.members}
    return dict(
        view=view,
        names=names,
        grid=grid(view.coverage),
        hhmm=service.hhmm,
        day_minutes=service.DAY,
        weekdays=WEEKDAYS,
        can_manage=ctx.principal.can("teams:manage"),
        prev_start=(first - timedelta(days=days)).isoformat(),
        next_start=(first + timedelta(days=days)).isoformat(),
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def teams(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Teams whose schedules the lead can open."""
    _need(ctx, "tickets:read")
    return render(request, ctx, "shifts/teams.html", rows=service.manageable_teams(db, ctx.principal))


@router.get("/{team_id}", response_class=HTMLResponse)
def team_page(
    request: Request, team_id: int, ctx: Ctx, db: DB, start: date | None = None, days: int = 7
) -> HTMLResponse:
    """A team's weekly shifts, leave and extra shifts, 24-hour coverage with its gaps, and overtime per agent."""
    _need(ctx, "tickets:read")
    days = days if days in (1, 7, 14) else 7
    data = _section(ctx, db, team_id, start, days)
    return render(request, ctx, "shifts/team.html", **data)


def _minutes(value: object, *, required: bool = True) -> int | None:
    text = str(value or "").strip()
    if not text:
        if required:
            raise InvalidInput.said("err_shifts_needs_times")
        return None
    return service.parse_hhmm(text)


def _edit(
    request: Request, ctx: Ctx, db: DB, form: FormData, team_id: int, action: str, item_id: int | None = None
) -> HTMLResponse:
    _need(ctx, "teams:manage")
    team = service.get_team(db, team_id, ctx.principal)
    error = ""
    try:
        if action == "add_shift":
            weekdays = [int(str(d)) for d in form.getlist("weekday") if str(d).isdigit()]
            if not weekdays:
                raise InvalidInput.said("err_shifts_needs_weekday")
            agent_id = int(str(form.get("agent_id") or 0))
            start, end = _minutes(form.get("start")), _minutes(form.get("end"))
            assert start is not None and end is not None
            bs, be = _minutes(form.get("break_start"), required=False), _minutes(form.get("break_end"), required=False)
            service.add_patterns(
                db, team, [service.PatternIn(agent_id, d, start, end, bs, be) for d in weekdays], ctx.principal
            )
        elif action == "remove_shift" and item_id is not None:
            service.delete_pattern(db, item_id, ctx.principal)
        elif action == "add_exception":
            kind = str(form.get("kind") or "leave")
            start_m = _minutes(form.get("start"), required=kind == "extra")
            end_m = _minutes(form.get("end"), required=start_m is not None)
            service.add_exception(
                db,
                team,
                ctx.principal,
                agent_id=int(str(form.get("agent_id") or 0)),
                day=date.fromisoformat(str(form.get("day") or "")),
                available=kind == "extra",
                start_minute=start_m,
                end_minute=end_m,
                note=str(form.get("note") or "")[:500],
            )
        elif action == "remove_exception" and item_id is not None:
            service.delete_exception(db, item_id, ctx.principal)
    except ProblemError as exc:  # validation happens before anything is written
        error = error_text(ctx, exc)
    except ValueError:
        error = ctx.t["sh_bad_input"]
    first = lenient_date(form.get("view_start"))  # the week on show: junk shows the current one
    days = int(str(form.get("view_days") or 7)) if str(form.get("view_days") or "7") in ("1", "7", "14") else 7
    data = _section(ctx, db, team_id, first, days, error=error)
    return render(request, ctx, "shifts/_section.html", status=422 if error else 200, **data)


@router.post("/{team_id}/shifts", response_class=HTMLResponse)
def add_shift(request: Request, team_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add one shift (with its break) on the chosen weekdays."""
    return _edit(request, ctx, db, form, team_id, "add_shift")


@router.post("/{team_id}/shifts/{pattern_id}/delete", response_class=HTMLResponse)
def remove_shift(request: Request, team_id: int, pattern_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Remove one weekly shift."""
    return _edit(request, ctx, db, form, team_id, "remove_shift", pattern_id)


@router.post("/{team_id}/exceptions", response_class=HTMLResponse)
def add_exception(request: Request, team_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add leave or an extra shift on one day."""
    return _edit(request, ctx, db, form, team_id, "add_exception")


@router.post("/{team_id}/exceptions/{exception_id}/delete", response_class=HTMLResponse)
def remove_exception(
    request: Request, team_id: int, exception_id: int, ctx: Ctx, db: DB, form: PostedForm
) -> HTMLResponse:
    """Remove leave or an extra shift."""
    return _edit(request, ctx, db, form, team_id, "remove_exception", exception_id)
