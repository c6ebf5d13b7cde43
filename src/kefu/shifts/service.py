"""Who is on shift when: weekly patterns per team and agent, dated exceptions on top, in the brand's timezone.

A team without any schedule is always staffed (availability alone decides, as before schedules existed). Once a
team has a schedule, only its agents on shift get new auto-assigned cases (`kefu.routing.service.candidates`), and
a brand whose teams have schedules offers call-back slots only while someone is on shift, at most one booking per
agent on shift (`kefu.callbacks.service.slots`).

A weekly shift may hold one break (off the floor: not on shift). Overtime per agent and local day is the time worked
outside the weekly schedule (extra shifts) plus scheduled work beyond the brand's normal day (``settings["shifts"]
["daily_minutes"]``, default 480: the 8-hour normal working day of Taiwan's Labor Standards Act §30).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Agent, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput, NotFound
from kefu.shifts.models import ShiftException, ShiftPattern

DAY = 24 * 60
DAILY_MINUTES = 8 * 60
Interval = tuple[int, int]


@dataclass(frozen=True)
class PatternIn:
    """One weekly shift of one agent, with an optional break inside it."""

    agent_id: int
    weekday: int
    start_minute: int
    end_minute: int
    break_start: int | None = None
    break_end: int | None = None


def parse_hhmm(value: str) -> int:
    """ "09:30" → 570 (minutes after local midnight; "24:00" allowed as an end)."""
    try:
        hh, mm = value.split(":")
        minutes = int(hh) * 60 + int(mm)
    except ValueError as exc:
        raise InvalidInput.said("err_shifts_time_format", value=value) from exc
    if not (0 <= int(mm) < 60 and 0 <= minutes <= DAY):
        raise InvalidInput.said("err_shifts_time_range", value=value)
    return minutes


def hhmm(minutes: int) -> str:
    """570 → "09:30"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def get_team(session: Session, team_id: int, actor: Principal | None) -> Team:
    """A team the actor may manage (404 across brands)."""
    team = get_in_brand(session, Team, team_id, actor, "Team")
    return team


def _members(session: Session, team_id: int) -> set[int]:
    return set(session.scalars(select(TeamMember.agent_id).where(TeamMember.team_id == team_id)))


def _span_end(start: int, end: int) -> int:
    """The shift's end in minutes from its start day's midnight (past 1440 for a night shift)."""
    return end if end > start else end + DAY


def _break_window(p: PatternIn) -> tuple[int, int] | None:
    """The break in minutes from the shift's start day (a break after midnight in a night shift lies past 1440)."""
    if (p.break_start is None) != (p.break_end is None):
        raise InvalidInput.said("err_shifts_break_both")
    if p.break_start is None or p.break_end is None:
        return None
    end = _span_end(p.start_minute, p.end_minute % DAY)
    bs, be = p.break_start, p.break_end
    if bs < p.start_minute:  # after midnight in a night shift
        bs += DAY
    if be <= bs:
        be += DAY
    if not (p.start_minute <= bs < be <= end) or (bs, be) == (p.start_minute, end):
        raise InvalidInput.said("err_shifts_break_inside")
    return bs, be


def _validated_rows(session: Session, team: Team, patterns: Sequence[PatternIn]) -> list[ShiftPattern]:
    members = _members(session, team.id)
    rows = []
    for p in patterns:
        if p.agent_id not in members:
            raise InvalidInput.said("err_shifts_not_team_member", agent_id=p.agent_id)
        if not 0 <= p.weekday <= 6:
            raise InvalidInput.said("err_shifts_weekday_range")
        if p.start_minute >= DAY or p.end_minute == p.start_minute:
            raise InvalidInput.said("err_shifts_shift_times")
        window = _break_window(p)
        rows.append(
            ShiftPattern(
                brand_id=team.brand_id,
                team_id=team.id,
                agent_id=p.agent_id,
                weekday=p.weekday,
                start_minute=p.start_minute,
                end_minute=p.end_minute % DAY if p.end_minute == DAY else p.end_minute,
                break_start_minute=window[0] if window else None,
                break_end_minute=window[1] if window else None,
            )
        )
    return rows


def set_patterns(
    session: Session, team: Team, patterns: Sequence[PatternIn], actor: Principal | None
) -> list[ShiftPattern]:
    """Replace the team's weekly schedule (an empty list removes it: the team is staffed by availability alone)."""
    rows = _validated_rows(session, team, patterns)
    session.execute(delete(ShiftPattern).where(ShiftPattern.team_id == team.id))
    session.add_all(rows)
    session.flush()
    record(
        session,
        actor,
        "shifts.set",
        target_type="team",
        target_id=team.id,
        brand_id=team.brand_id,
        details={"shifts": len(rows)},
    )
    return rows


def add_patterns(
    session: Session, team: Team, patterns: Sequence[PatternIn], actor: Principal | None
) -> list[ShiftPattern]:
    """Add weekly shifts to the team's schedule (the console form: one shift on several weekdays)."""
    rows = _validated_rows(session, team, patterns)
    session.add_all(rows)
    session.flush()
    record(
        session,
        actor,
        "shifts.add",
        target_type="team",
        target_id=team.id,
        brand_id=team.brand_id,
        details={"agent_ids": sorted({r.agent_id for r in rows}), "shifts": len(rows)},
    )
    return rows


def delete_pattern(session: Session, pattern_id: int, actor: Principal | None) -> ShiftPattern:
    """Remove one weekly shift."""
    row = get_in_brand(session, ShiftPattern, pattern_id, actor, "Shift")
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "shifts.remove",
        target_type="team",
        target_id=row.team_id,
        brand_id=row.brand_id,
        details={"agent_id": row.agent_id, "weekday": row.weekday},
    )
    return row


def add_exception(
    session: Session,
    team: Team,
    actor: Principal | None,
    *,
    agent_id: int,
    day: date,
    available: bool,
    start_minute: int | None = None,
    end_minute: int | None = None,
    note: str = "",
) -> ShiftException:
    """Leave (available false) or an extra shift (true) on one local day, whole day without times."""
    if agent_id not in _members(session, team.id):
        raise InvalidInput.said("err_shifts_not_team_member", agent_id=agent_id)
    if (start_minute is None) != (end_minute is None):
        raise InvalidInput.said("err_shifts_exception_both")
    if start_minute is not None and end_minute is not None and not start_minute < end_minute:
        raise InvalidInput.said("err_shifts_exception_order")
    if available and start_minute is None:
        raise InvalidInput.said("err_shifts_extra_needs_times")
    row = ShiftException(
        brand_id=team.brand_id,
        team_id=team.id,
        agent_id=agent_id,
        day=day,
        available=available,
        start_minute=start_minute,
        end_minute=end_minute,
        note=note[:500],
        created_by=actor.agent_id if actor else None,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "shifts.exception",
        target_type="team",
        target_id=team.id,
        brand_id=team.brand_id,
        details={"agent_id": agent_id, "day": day.isoformat(), "available": available},
    )
    return row


def delete_exception(session: Session, exception_id: int, actor: Principal | None) -> None:
    """Remove an exception."""
    row = get_in_brand(session, ShiftException, exception_id, actor, "Shift exception")
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "shifts.exception_remove",
        target_type="team",
        target_id=row.team_id,
        brand_id=row.brand_id,
        details={"agent_id": row.agent_id, "day": row.day.isoformat(), "available": row.available},
    )


def schedule(session: Session, team: Team) -> tuple[list[ShiftPattern], list[ShiftException]]:
    """The team's weekly patterns and its exceptions from yesterday on."""
    patterns = list(
        session.scalars(
            select(ShiftPattern)
            .where(ShiftPattern.team_id == team.id)
            .order_by(ShiftPattern.weekday, ShiftPattern.start_minute, ShiftPattern.agent_id)
        )
    )
    since = utcnow().date() - timedelta(days=1)
    exceptions = list(
        session.scalars(
            select(ShiftException)
            .where(ShiftException.team_id == team.id, ShiftException.day >= since)
            .order_by(ShiftException.day, ShiftException.id)
        )
    )
    return patterns, exceptions


# ---------------------------------------------------------------- who is on shift


def _pieces(p: ShiftPattern) -> list[Interval]:
    """The shift's working stretches in minutes from its start day's midnight (the break cut out)."""
    end = _span_end(p.start_minute, p.end_minute)
    if p.break_start_minute is None or p.break_end_minute is None:
        return [(p.start_minute, end)]
    return [(p.start_minute, p.break_start_minute), (p.break_end_minute, end)]


def _covered(patterns: Iterable[ShiftPattern], weekday: int, minute: int) -> bool:
    for p in patterns:
        if p.weekday == weekday:
            t = minute
        elif p.weekday == (weekday - 1) % 7 and p.end_minute <= p.start_minute:
            t = minute + DAY  # the tail of yesterday's night shift
        else:
            continue
        if any(s <= t < e for s, e in _pieces(p)):
            return True
    return False


def _on(patterns: list[ShiftPattern], exceptions: list[ShiftException], local: datetime) -> bool:
    minute = local.hour * 60 + local.minute
    todays = [e for e in exceptions if e.day == local.date()]

    def hits(e: ShiftException) -> bool:
        return e.start_minute is None or (e.start_minute <= minute < (e.end_minute or DAY))

    if any(not e.available and hits(e) for e in todays):
        return False
    if any(e.available and hits(e) for e in todays):
        return True
    return _covered(patterns, local.weekday(), minute)


class Roster:
    """Schedules of a set of teams loaded once (two queries), answering who is on shift at any instant."""

    def __init__(self, session: Session, team_ids: Sequence[int], tz: str, start: date, end: date) -> None:
        """Load patterns and the exceptions dated in [start, end]."""
        self.tz = ZoneInfo(tz)
        self.patterns: dict[tuple[int, int], list[ShiftPattern]] = {}
        self.exceptions: dict[tuple[int, int], list[ShiftException]] = {}
        if not team_ids:
            return
        for p in session.scalars(select(ShiftPattern).where(ShiftPattern.team_id.in_(team_ids))):
            self.patterns.setdefault((p.team_id, p.agent_id), []).append(p)
        for e in session.scalars(
            select(ShiftException).where(
                ShiftException.team_id.in_(team_ids), ShiftException.day >= start, ShiftException.day <= end
            )
        ):
            self.exceptions.setdefault((e.team_id, e.agent_id), []).append(e)

    @property
    def scheduled_teams(self) -> set[int]:
        """Teams that have any schedule (patterns or exceptions)."""
        return {t for t, _ in self.patterns} | {t for t, _ in self.exceptions}

    def on_shift(self, at: datetime, team_id: int | None = None) -> set[int]:
        """Agents on shift at `at` (in the given team, or any scheduled team)."""
        local = at.astimezone(self.tz)
        keys = set(self.patterns) | set(self.exceptions)
        return {
            agent
            for team, agent in keys
            if (team_id is None or team == team_id)
            and _on(self.patterns.get((team, agent), []), self.exceptions.get((team, agent), []), local)
        }


def team_on_shift(session: Session, team_id: int, at: datetime | None = None) -> set[int] | None:
    """Agents of a team on shift now (None: the team has no schedule, so everyone available counts)."""
    at = at or utcnow()
    tz = session.scalar(select(Brand.timezone).join(Team, Team.brand_id == Brand.id).where(Team.id == team_id))
    local_day = at.astimezone(ZoneInfo(tz or "Asia/Taipei")).date()
    roster = Roster(session, [team_id], tz or "Asia/Taipei", local_day - timedelta(days=1), local_day)
    if team_id not in roster.scheduled_teams:
        return None
    return roster.on_shift(at, team_id)


def brand_roster(session: Session, brand: Brand, start: datetime, end: datetime) -> Roster | None:
    """The roster of every scheduled team of a brand for [start, end] (None when no team keeps a schedule)."""
    has = session.scalar(
        select(
            or_(
                exists().where(ShiftPattern.brand_id == brand.id),
                exists().where(ShiftException.brand_id == brand.id),
            )
        )
    )
    if not has:
        return None
    tz = brand.timezone or "Asia/Taipei"
    teams = list(session.scalars(select(Team.id).where(Team.brand_id == brand.id)))
    zone = ZoneInfo(tz)
    return Roster(session, teams, tz, start.astimezone(zone).date(), end.astimezone(zone).date())


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _minus(base: list[Interval], cut: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in base:
        pieces = [(start, end)]
        for cs, ce in cut:
            pieces = [q for s, e in pieces for q in ((s, min(e, cs)), (max(s, ce), e)) if q[0] < q[1]]
        out.extend(pieces)
    return _union(out)


def _length(intervals: Iterable[Interval]) -> int:
    return sum(e - s for s, e in intervals)


def day_work(
    patterns: Sequence[ShiftPattern], exceptions: Sequence[ShiftException], day: date, daily_minutes: int
) -> tuple[int, int]:
    """One agent's (worked, overtime) minutes on a local day: (schedule ∪ extra shifts) − leave, as `_on` decides."""
    regular: list[Interval] = []
    for p in patterns:
        if p.weekday == day.weekday():
            regular += [(s, min(e, DAY)) for s, e in _pieces(p)]
        elif p.weekday == (day.weekday() - 1) % 7 and p.end_minute <= p.start_minute:
            regular += [(max(s - DAY, 0), e - DAY) for s, e in _pieces(p)]
    todays = [e for e in exceptions if e.day == day]
    leave = _union((e.start_minute or 0, e.end_minute or DAY) for e in todays if not e.available)
    extra = _union((e.start_minute or 0, e.end_minute or DAY) for e in todays if e.available)
    scheduled = _minus(_union(regular), leave)
    worked = _minus(_union(regular + extra), leave)
    outside = _length(worked) - _length(scheduled)  # extra shifts beyond the weekly schedule
    return _length(worked), outside + max(0, _length(scheduled) - daily_minutes)


@dataclass
class Coverage:
    """A team's staffing over local days: agents on shift per step, the uncovered stretches, work and overtime."""

    timezone: str
    step_minutes: int
    counts: dict[str, list[int]]  # local date → on-shift count per step of the day
    gaps: list[tuple[str, str]]  # local "YYYY-MM-DD HH:MM" start and end of stretches nobody covers
    overtime_minutes: dict[int, int]  # agents with overtime in the period only
    worked_minutes: dict[int, int]  # every scheduled agent
    minimum_on_shift: int = 1
    short: list[tuple[str, str]] | None = None  # stretches staffed, but by fewer than minimum_on_shift agents


def daily_minutes_of(brand: Brand | None) -> int:
    """The brand's normal working day in minutes (beyond it, scheduled work counts as overtime)."""
    conf = ((brand.settings or {}) if brand else {}).get("shifts") or {}
    value = conf.get("daily_minutes", DAILY_MINUTES)
    return int(value) if isinstance(value, int) and 60 <= value <= DAY else DAILY_MINUTES


def check_settings(value: object) -> dict[str, int]:
    """Validate ``settings["shifts"]``: ``daily_minutes`` (60–1440) and ``min_on_shift`` (1–50)."""
    limits = {"daily_minutes": (60, DAY), "min_on_shift": (1, 50)}
    if not isinstance(value, dict) or set(value) - set(limits):
        raise InvalidInput.said("err_shifts_settings_keys", limits=sorted(limits))
    for key, number in value.items():
        low, high = limits[key]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise InvalidInput.said("err_shifts_setting_range", key=key, low=low, high=high)
    return dict(value)


def minimum_on_shift_of(brand: Brand | None) -> int:
    """Agents the brand wants on shift at every moment (seed 003: a 3-person duty group around the clock)."""
    conf = ((brand.settings or {}) if brand else {}).get("shifts") or {}
    value = conf.get("min_on_shift", 1)
    return int(value) if isinstance(value, int) and 1 <= value <= 50 else 1


def _stretches(
    counts: dict[str, list[int]], step: int, zone: ZoneInfo, hit: Callable[[int], bool]
) -> list[tuple[str, str]]:
    """Local start and end of the runs of steps whose count satisfies `hit`."""
    out: list[tuple[str, str]] = []
    open_at: str | None = None
    last = ""
    for day, row in counts.items():
        d = date.fromisoformat(day)
        for i, n in enumerate(row):
            minute = i * step
            label = datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=zone).strftime("%Y-%m-%d %H:%M")
            if hit(n) and open_at is None:
                open_at = label
            elif not hit(n) and open_at is not None:
                out.append((open_at, label))
                open_at = None
        last = (datetime(d.year, d.month, d.day, tzinfo=zone) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    if open_at is not None:
        out.append((open_at, last))
    return out


def coverage(session: Session, team: Team, start: date, days: int, step_minutes: int = 30) -> Coverage:
    """Who covers each step of `days` local days from `start` (24-hour view), where the gaps are, and overtime."""
    if not 1 <= days <= 31 or step_minutes not in (15, 30, 60):
        raise InvalidInput.said("err_shifts_coverage_range")
    brand = session.get(Brand, team.brand_id)
    tz = (brand.timezone if brand else None) or "Asia/Taipei"
    end = start + timedelta(days=days - 1)
    roster = Roster(session, [team.id], tz, start - timedelta(days=1), end)
    zone = ZoneInfo(tz)
    counts: dict[str, list[int]] = {}
    gaps: list[tuple[str, str]] = []
    open_gap: str | None = None
    for d in range(days):
        day = start + timedelta(days=d)
        row = []
        for minute in range(0, DAY, step_minutes):
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            n = len(roster.on_shift(local, team.id))
            row.append(n)
            label = local.strftime("%Y-%m-%d %H:%M")
            if n == 0 and open_gap is None:
                open_gap = label
            elif n > 0 and open_gap is not None:
                gaps.append((open_gap, label))
                open_gap = None
        counts[day.isoformat()] = row
    if open_gap is not None:
        last = datetime(end.year, end.month, end.day, tzinfo=zone) + timedelta(days=1)
        gaps.append((open_gap, last.strftime("%Y-%m-%d %H:%M")))
    limit = daily_minutes_of(brand)
    worked: dict[int, int] = {}
    overtime: dict[int, int] = {}
    for key in sorted(set(roster.patterns) | set(roster.exceptions)):
        agent = key[1]
        for d in range(days):
            w, o = day_work(
                roster.patterns.get(key, []), roster.exceptions.get(key, []), start + timedelta(days=d), limit
            )
            worked[agent] = worked.get(agent, 0) + w
            if o:
                overtime[agent] = overtime.get(agent, 0) + o
    minimum = minimum_on_shift_of(brand)
    short = _stretches(counts, step_minutes, zone, lambda n: 0 < n < minimum) if minimum > 1 else []
    return Coverage(tz, step_minutes, counts, gaps, overtime, worked, minimum, short)


# ---------------------------------------------------------------- console view


def manageable_teams(session: Session, actor: Principal) -> list[tuple[Team, str]]:
    """Teams of the actor's brands with their brand's name, for the shift pages."""
    stmt = select(Team, Brand.name).join(Brand, Brand.id == Team.brand_id).order_by(Brand.name, Team.name, Team.id)
    stmt = scope_to_brands(stmt, Team.brand_id, actor)
    return [(team, str(name)) for team, name in session.execute(stmt).all()]


@dataclass
class TeamView:
    """Everything the team lead's shift page shows: members, weekly shifts, exceptions, coverage and overtime."""

    team: Team
    brand: Brand
    members: list[Agent]
    patterns: list[ShiftPattern]
    exceptions: list[ShiftException]
    coverage: Coverage
    start: date
    days: int
    daily_minutes: int


def local_today(session: Session, team: Team) -> date:
    """Today in the team's brand's timezone."""
    tz = session.scalar(select(Brand.timezone).where(Brand.id == team.brand_id)) or "Asia/Taipei"
    return utcnow().astimezone(ZoneInfo(tz)).date()


def team_view(session: Session, team: Team, start: date, days: int) -> TeamView:
    """Load the shift page of one team for `days` local days from `start` (coverage at 15-minute steps)."""
    brand = session.get(Brand, team.brand_id)
    if brand is None:
        raise NotFound.said("err_shifts_brand_not_found")
    members = list(
        session.scalars(
            select(Agent)
            .join(TeamMember, TeamMember.agent_id == Agent.id)
            .where(TeamMember.team_id == team.id)
            .order_by(Agent.name, Agent.id)
        )
    )
    patterns, exceptions = schedule(session, team)
    return TeamView(
        team=team,
        brand=brand,
        members=members,
        patterns=patterns,
        exceptions=exceptions,
        coverage=coverage(session, team, start, days, 15),
        start=start,
        days=days,
        daily_minutes=daily_minutes_of(brand),
    )
