"""Business calendars and exact SLA clock arithmetic (opening hours, holidays, 補班, pauses).

Every public method accepts timezone-aware datetimes (any zone) and returns UTC datetimes;
naive datetimes raise ``ValueError``.  Internally instants are integer microseconds since
the Unix epoch so arithmetic is exact, and each local date's opening hours are converted
to UTC once and cached, which keeps DST handling in one place (``_build_day``).

Rules:

* Opening intervals are half-open ``[start, end)``: at 18:00 a 09:00-18:00 desk is closed.
* Precedence for a date: ``special_hours`` > explicit make-up workday / holiday >
  bundled ``holiday_sets`` > ``weekly_hours``.  A make-up workday (補班/调休) given as a
  bare date works the hours of the first open weekday (Mon→Sun); it can also name a
  weekday (``"fri"``) or list explicit hours.
* Business minutes: a start outside hours starts the clock at the next opening; the
  deadline is the *earliest* instant by which the minutes have run, so a deadline that
  uses up a day exactly is that day's close (18:00), never the next morning.
* Business days: the clock starts at ``next_open(start)``.  If that is the first opening
  of a business day (ticket arrived overnight, on a weekend/holiday, or right at
  opening) that day counts as day 1 and the deadline is the close of the N-th business
  day (Friday 20:00 + 1 → Monday 18:00).  Otherwise it is the same local wall-clock time
  on the N-th following business day (Friday 17:00 + 1 → Monday 17:00, also across DST),
  clamped into that day's hours: after its close or inside its lunch break → the end of
  the preceding interval; before its first opening → that opening.  0 days → clock start.
* Calendar time: ``days`` are local calendar days (same wall time; 23/25 h across DST),
  ``minutes`` are elapsed minutes; opening hours are ignored.
* Pauses: ``(start, end | None)`` pairs, merged when overlapping, ignored before the
  clock start; the clock does not run while paused, and an open-ended pause that starts
  before the target is reached yields no deadline (``None``).  Day targets are converted
  into the clock time they represent from the start (business minutes for business days,
  elapsed time for calendar days) and then extended by the paused time; when no pause
  touches ``[start, deadline)`` the result is exactly the un-paused deadline.
* Wall times that fall into a DST gap or fold resolve per PEP 495 ``fold=0`` (a gap time
  shifts forward by the gap length, an ambiguous time means its first occurrence).
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import metadata, resources
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_CALENDAR_CONFIGS",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarConfig",
    "DurationUnit",
    "HolidaySet",
    "Pause",
    "SlaDuration",
    "Weekday",
    "available_holiday_sets",
    "default_calendars",
    "load_holiday_set",
    "missing_makeup_years",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MakeupRule = Weekday | Literal["workday"] | list[str]
DurationUnit = Literal["calendar_minutes", "business_minutes", "business_days", "calendar_days"]
Pause = tuple[datetime, datetime | None]

_US_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Why: a calendar that (almost) never opens must fail loudly instead of scanning forever.
_MAX_SCAN_DAYS = 366 * 50
# Why: a sweep touches a few thousand distinct dates; the bound only protects long-lived
# processes that are fed arbitrary dates from growing the cache without limit.
_DAY_CACHE_LIMIT = 50_000
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")
_SET_NAME_RE = re.compile(r"^[a-z0-9_]+$")

Hours = tuple[tuple[int, int], ...]  # (start_minute, end_minute) local wall-clock, end <= 1440


# --------------------------------------------------------------------------- helpers


def _to_us(value: datetime) -> int:
    """Convert an aware datetime to integer microseconds since the epoch."""
    if not isinstance(value, datetime):
        raise ValueError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: SLA times must be timezone-aware (UTC)")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    """Convert epoch microseconds back to a UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def _amount_us(minutes: float, what: str = "minutes") -> int:
    """Validate a non-negative minute amount and convert it to microseconds."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise ValueError(f"{what} must be a number, got {minutes!r}")
    if isinstance(minutes, float) and not math.isfinite(minutes):
        raise ValueError(f"{what} must be finite, got {minutes!r}")
    if minutes < 0:
        raise ValueError(f"{what} must be >= 0, got {minutes!r}")
    if isinstance(minutes, int):
        return minutes * _US_PER_MINUTE
    return round(minutes * _US_PER_MINUTE)


def _count(value: object, what: str) -> int:
    """Validate a non-negative whole number of days."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return value


def _parse_range(spec: str) -> tuple[int, int]:
    """Parse ``"HH:MM-HH:MM"`` into minutes after local midnight."""
    match = _HOURS_RE.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(f"invalid hours {spec!r}; expected 'HH:MM-HH:MM'")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"invalid time in hours {spec!r}")
    start, end = sh * 60 + sm, eh * 60 + em
    if end <= start:
        raise ValueError(
            f"hours {spec!r} end before they start; split overnight shifts at 24:00 "
            "(e.g. '22:00-24:00' and '00:00-02:00' on the next day)"
        )
    return start, end


def _parse_day(specs: Sequence[str]) -> Hours:
    """Parse, sort and merge one day's hour ranges; overlapping ranges are an error."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(_parse_range(s) for s in specs):
        if merged and start < merged[-1][1]:
            raise ValueError(f"overlapping hours in {list(specs)!r}")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _format_day(hours: Hours) -> list[str]:
    """Render parsed hours back to canonical ``HH:MM-HH:MM`` strings."""
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in hours]


def _weekday_key(key: object) -> object:
    """Accept ``mon``/``Monday`` style keys; leave anything else for pydantic to reject."""
    if isinstance(key, str):
        lowered = key.strip().lower()
        for short, full in zip(WEEKDAYS, _FULL_WEEKDAYS, strict=True):
            if lowered in (short, full):
                return short
    return key


def _standard_workday(weekly: Sequence[Hours]) -> Hours:
    """Hours of the first weekday (Mon→Sun) that is open; used for plain make-up workdays."""
    for hours in weekly:
        if hours:
            return hours
    return ()


def _resolve_makeup(rule: MakeupRule, weekly: Sequence[Hours]) -> Hours:
    """Hours worked on a make-up workday: a weekday's hours, the standard workday, or explicit."""
    if isinstance(rule, list):
        return _parse_day(rule)
    if rule == "workday":
        return _standard_workday(weekly)
    return weekly[WEEKDAYS.index(rule)]


# --------------------------------------------------------------------------- holiday data


class HolidaySet(BaseModel):
    """A bundled, source-attributed list of public holidays and make-up workdays."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    timezone: str
    source: str = ""
    holidays: dict[date, str] = Field(default_factory=dict)
    makeup_workdays: dict[date, str] = Field(default_factory=dict)

    @property
    def makeup_years(self) -> list[int]:
        """Years for which the set knows make-up workdays (from an official notice)."""
        return sorted({d.year for d in self.makeup_workdays})


# Region sets cover every year from the `holidays` package (public holidays, observed days and the make-up
# workdays); a bundled ``<region>_<year>.json`` (official calendar) replaces the package's data for its year.
# Make-up workdays (调休上班 / 補班) come from what the package exposes for them: ``weekend_workdays`` and the names of
# its substituted days off ("Day off (substituted from 02/14/2026)" / "休息日（由 2026-02-14 调休）" /
# "放假日（2024-02-17 補班）"), whichever has a date (checked against holidays 0.109: both agree for CN 2015–2026 and
# TW 2015–2025). The package carries them only for years whose official notice it already has (CN up to 2026 in
# 0.109; TW abolished 補班 from 2025): ``makeup_years`` says which years have them, and later CN years need a
# calendar's ``makeup_workdays`` override until a package release has them (the lifted lunar holidays for those
# years are the package's rule-based estimate, also overridable per calendar).
REGION_SETS: dict[str, tuple[str, str]] = {"tw": ("TW", "Asia/Taipei"), "cn": ("CN", "Asia/Shanghai")}
HOLIDAY_YEARS = range(2015, 2041)


_SUBSTITUTED = (
    re.compile(r"substituted from (?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"),  # en_US labels
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\s*(?:调休|調休|補班|补班)"),  # zh_CN / zh_TW labels
)


def substituted_from(name: str) -> list[date]:
    """The workdays a `holidays` substituted day off names ("Day off (substituted from 02/14/2026)")."""
    found = []
    for pattern in _SUBSTITUTED:
        for m in pattern.finditer(name):
            try:
                found.append(date(int(m["y"]), int(m["m"]), int(m["d"])))
            except ValueError:
                continue
    return found


def _bundled_sets() -> list[str]:
    data = resources.files("kefu.sla").joinpath("data")
    return sorted(p.name[:-5] for p in data.iterdir() if p.name.endswith(".json"))


def available_holiday_sets() -> list[str]:
    """Names of the holiday sets: region sets (``tw``, ``cn``; every year) and bundled single years (``tw_2026``)."""
    return sorted([*REGION_SETS, *_bundled_sets()])


def _load_bundled(name: str) -> HolidaySet:
    raw = resources.files("kefu.sla").joinpath("data", f"{name}.json").read_text(encoding="utf-8")
    return HolidaySet.model_validate(json.loads(raw))


def _region_set(name: str) -> HolidaySet:
    import holidays  # the maintained source of holiday rules (lunar dates, observed days) for every year

    code, tz = REGION_SETS[name]
    lib = holidays.country_holidays(code, years=HOLIDAY_YEARS)
    days: dict[date, str] = {d: str(n) for d, n in lib.items()}
    workdays: dict[date, str] = {
        d: "make-up workday" for d in getattr(lib, "weekend_workdays", ()) if d.year in HOLIDAY_YEARS
    }
    for day, label in days.items():
        for worked in substituted_from(label):
            if worked.year in HOLIDAY_YEARS and worked not in days:
                workdays.setdefault(worked, f"make-up workday for {day.isoformat()}")
    sources = [f"python holidays {metadata.version('holidays')} ({code})"]
    for bundled in (b for b in _bundled_sets() if b.startswith(f"{name}_") and b[len(name) + 1 :].isdigit()):
        year = int(bundled[len(name) + 1 :])
        data = _load_bundled(bundled)
        days = {d: n for d, n in days.items() if d.year != year} | dict(data.holidays)
        workdays = {d: n for d, n in workdays.items() if d.year != year} | dict(data.makeup_workdays)
        sources.append(f"{bundled}: {data.source}")
    return HolidaySet(name=name, timezone=tz, source="; ".join(sources), holidays=days, makeup_workdays=workdays)


# Regions that still schedule make-up workdays each year (TW abolished 補班 from 2025).
MAKEUP_REGIONS = frozenset({"cn"})


def missing_makeup_years(name: str, today: date, ahead: int = 2) -> list[int]:
    """Years from `today` to `ahead` years on whose make-up workdays the set has no data yet (override them)."""
    region = name.split("_", 1)[0]
    if region not in MAKEUP_REGIONS or name not in REGION_SETS:
        return []
    known = set(load_holiday_set(name).makeup_years)
    return [y for y in range(today.year, today.year + ahead + 1) if y not in known]


@lru_cache(maxsize=32)
def load_holiday_set(name: str) -> HolidaySet:
    """Load a holiday set: ``tw`` / ``cn`` (all years) or a bundled year such as ``tw_2026``."""
    if not _SET_NAME_RE.match(name) or name not in available_holiday_sets():
        raise ValueError(f"unknown holiday set {name!r}; available: {available_holiday_sets()}")
    if name in REGION_SETS:
        return _region_set(name)
    return _load_bundled(name)


# --------------------------------------------------------------------------- config


def _default_weekly() -> dict[Weekday, list[str]]:
    return {day: ["09:00-18:00"] for day in WEEKDAYS[:5]}


class CalendarConfig(BaseModel):
    """Admin-editable calendar definition; round-trips through plain dicts/JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="default", min_length=1)
    timezone: str = "Asia/Taipei"
    mode: Literal["business_hours", "24x7"] = "business_hours"
    weekly_hours: dict[Weekday, list[str]] = Field(default_factory=_default_weekly)
    holidays: dict[date, str] = Field(default_factory=dict)
    makeup_workdays: dict[date, MakeupRule] = Field(default_factory=dict)
    special_hours: dict[date, list[str]] = Field(default_factory=dict)
    holiday_sets: list[str] = Field(default_factory=list)

    @field_validator("weekly_hours", mode="before")
    @classmethod
    def _weekly_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {_weekday_key(k): [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("weekly_hours")
    @classmethod
    def _weekly_canonical(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        return {day: _format_day(_parse_day(value[day])) for day in WEEKDAYS if day in value}

    @field_validator("holidays", mode="before")
    @classmethod
    def _holiday_list(cls, value: Any) -> Any:
        # Why: admins usually paste a bare list of dates; names are optional.
        if isinstance(value, list | tuple | set | frozenset):
            return {d: "" for d in value}
        return value

    @field_validator("makeup_workdays", mode="before")
    @classmethod
    def _makeup_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple | set | frozenset):
            return {d: "workday" for d in value}
        if isinstance(value, Mapping):
            return {k: _weekday_key(v) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("special_hours", mode="before")
    @classmethod
    def _special_str(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("special_hours")
    @classmethod
    def _special_canonical(cls, value: dict[date, list[str]]) -> dict[date, list[str]]:
        return {d: _format_day(_parse_day(specs)) for d, specs in value.items()}

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        if self.mode == "24x7":
            extras = [
                f
                for f in ("weekly_hours", "holidays", "makeup_workdays", "special_hours", "holiday_sets")
                if f in self.model_fields_set and getattr(self, f)
            ]
            if extras:
                raise ValueError(f"a 24x7 calendar is always open; remove {extras}")
            return self
        both = sorted(set(self.holidays) & set(self.makeup_workdays))
        if both:
            raise ValueError(f"dates are both holiday and make-up workday: {[d.isoformat() for d in both]}")
        for set_name in self.holiday_sets:
            load_holiday_set(set_name)
        weekly = [_parse_day(self.weekly_hours.get(day, [])) for day in WEEKDAYS]
        for day, rule in self.makeup_workdays.items():
            if not _resolve_makeup(rule, weekly):
                raise ValueError(f"make-up workday {day.isoformat()} ({rule!r}) resolves to no opening hours")
        # Make-up days were checked above to have hours; bundled ones borrow weekly hours.
        if not (any(weekly) or self.makeup_workdays or any(self.special_hours.values())):
            raise ValueError("calendar never opens: give weekly_hours or use mode '24x7'")
        return self


@dataclass(frozen=True, slots=True)
class SlaDuration:
    """An SLA clock amount: calendar/business minutes, or business/calendar days."""

    amount: float
    unit: DurationUnit

    def __post_init__(self) -> None:
        if self.unit not in get_args(DurationUnit):
            raise ValueError(f"unknown duration unit {self.unit!r}")
        if self.unit.endswith("_days"):
            _count(self.amount, "days")
        else:
            _amount_us(self.amount)

    @property
    def business(self) -> bool:
        """True when the clock only runs during business hours."""
        return self.unit.startswith("business")


# --------------------------------------------------------------------------- calendar


class BusinessCalendar:
    """A business calendar with interval-based (never minute-stepping) SLA arithmetic."""

    def __init__(self, config: CalendarConfig | Mapping[str, Any]) -> None:
        if not isinstance(config, CalendarConfig):
            config = CalendarConfig.model_validate(config)
        self.config = config
        self.name = config.name
        self.zone = ZoneInfo(config.timezone)
        self.always_open = config.mode == "24x7"
        weekly: tuple[Hours, ...]
        if self.always_open:
            weekly = (((0, 1440),),) * 7
        else:
            weekly = tuple(_parse_day(config.weekly_hours.get(day, [])) for day in WEEKDAYS)
        self._weekly = weekly
        overrides: dict[int, Hours] = {}
        # Bundled data first, so anything the admin wrote explicitly overrides it.
        for set_name in config.holiday_sets:
            data = load_holiday_set(set_name)
            for day in data.holidays:
                overrides[day.toordinal()] = ()
            for day in data.makeup_workdays:
                overrides[day.toordinal()] = _standard_workday(weekly)
        for day in config.holidays:
            overrides[day.toordinal()] = ()
        for day, rule in config.makeup_workdays.items():
            overrides[day.toordinal()] = _resolve_makeup(rule, weekly)
        for day, specs in config.special_hours.items():
            overrides[day.toordinal()] = _parse_day(specs)
        self._overrides = overrides
        self._last_override = max(overrides, default=0)
        self._week_us = sum(e - s for hours in weekly for s, e in hours) * _US_PER_MINUTE
        self._week_days = sum(1 for hours in weekly if hours)
        self._day_cache: dict[int, tuple[int, ...]] = {}
        # Dates where the fast week-skip is not allowed: overrides plus DST-change dates,
        # the latter discovered lazily per year by _scan_year.
        self._irregular: list[int] = sorted(overrides)
        self._scanned_years: set[int] = set()
        # Why: tests flip this to compare the week-skipping fast path with plain day steps.
        self._week_skip = True

    def day_kind(self, day: date) -> Literal["open", "closed", "holiday", "makeup"]:
        """How a local date is treated: open/closed by the week, a holiday, or a make-up workday (補班/调休)."""
        ordinal = day.toordinal()
        weekly = self._weekly[(ordinal - 1) % 7]
        override = self._overrides.get(ordinal)
        if override is None:
            return "open" if weekly else "closed"
        if not override:
            return "holiday" if weekly else "closed"
        return "open" if weekly else "makeup"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from a plain dict (e.g. admin JSON)."""
        return cls(CalendarConfig.model_validate(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> BusinessCalendar:
        """Build a calendar from a JSON document."""
        return cls(CalendarConfig.model_validate_json(text))

    def __repr__(self) -> str:
        cfg = self.config
        return f"BusinessCalendar(name={self.name!r}, timezone={cfg.timezone!r}, mode={cfg.mode!r})"

    # ------------------------------------------------------------------ day model

    def _wall_hours(self, ordinal: int) -> Hours:
        hours = self._overrides.get(ordinal)
        if hours is not None:
            return hours
        return self._weekly[(ordinal - 1) % 7]  # date.fromordinal(1) is a Monday

    def _local_us(self, day: date, minute: int) -> int:
        if minute == 1440:
            day, minute = day + timedelta(days=1), 0
        # Wall times inside a DST gap/fold resolve per PEP 495 (fold=0): gap times shift
        # forward by the gap, ambiguous times take the first occurrence.
        return _to_us(datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.zone))

    def _build_day(self, ordinal: int) -> tuple[int, ...]:
        hours = self._wall_hours(ordinal)
        if not hours:
            return ()
        day = date.fromordinal(ordinal)
        out: list[int] = []
        for start_min, end_min in hours:
            start, end = self._local_us(day, start_min), self._local_us(day, end_min)
            if out and start <= out[-1]:
                # Adjacent ranges merge; DST folds can make ranges overlap, so clip them.
                out[-1] = max(out[-1], end)
            elif end > start:
                out.extend((start, end))
        return tuple(out)

    def _day(self, ordinal: int) -> tuple[int, ...]:
        """Opening intervals of a local date as flat ``(start, end, start, end, ...)`` epoch µs."""
        cached = self._day_cache.get(ordinal)
        if cached is None:
            cached = self._build_day(ordinal)
            if len(self._day_cache) >= _DAY_CACHE_LIMIT:
                self._day_cache.clear()
            self._day_cache[ordinal] = cached
        return cached

    def _local_ordinal(self, us: int) -> int:
        return _from_us(us).astimezone(self.zone).toordinal()

    def _midnight_offset(self, ordinal: int) -> timedelta | None:
        day = date.fromordinal(ordinal)
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).utcoffset()

    def _scan_year(self, year: int) -> None:
        """Mark dates whose UTC length differs from wall-clock length (DST changes)."""
        if year in self._scanned_years:
            return
        self._scanned_years.add(year)
        first, last = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
        marks: list[int] = []
        prev = self._midnight_offset(first)
        for ordinal in range(first, last):
            nxt = self._midnight_offset(ordinal + 1)
            if nxt != prev:
                # Conservative: both neighbours of an offset change leave the fast path.
                marks.extend((ordinal, ordinal + 1))
            prev = nxt
        if marks:
            self._irregular = sorted(set(self._irregular).union(marks))

    def _next_irregular(self, ordinal: int) -> int:
        """First date >= ordinal that is not a plain weekly day (capped at the scanned horizon)."""
        year = date.fromordinal(ordinal).year
        self._scan_year(year)
        self._scan_year(year + 1)
        horizon = date(year + 2, 1, 1).toordinal()
        i = bisect.bisect_left(self._irregular, ordinal)
        nxt = self._irregular[i] if i < len(self._irregular) else horizon
        return min(nxt, horizon)

    def _guard(self, ordinal: int, origin: int) -> None:
        if (self._week_us == 0 and ordinal > self._last_override) or ordinal - origin > _MAX_SCAN_DAYS:
            raise ValueError(
                f"calendar {self.name!r} has no opening hours after {date.fromordinal(origin).isoformat()}"
            )

    # ------------------------------------------------------------------ µs primitives

    def _next_open(self, t: int) -> tuple[int, int]:
        """Earliest open instant >= t and its local date ordinal."""
        ordinal = origin = self._local_ordinal(t)
        while True:
            iv = self._day(ordinal)
            for i in range(1, len(iv), 2):
                if iv[i] > t:
                    return max(iv[i - 1], t), ordinal
            ordinal += 1
            self._guard(ordinal, origin)

    def _add_us(self, t: int, amount: int) -> int:
        """Earliest instant by which ``amount`` business µs have elapsed since t."""
        if self.always_open:
            return t + amount
        remaining = amount
        ordinal = origin = self._local_ordinal(t)
        iv = self._day(ordinal)
        for i in range(0, len(iv), 2):
            end = iv[i + 1]
            if end <= t:
                continue
            start = max(iv[i], t)
            if remaining <= end - start:
                return start + remaining
            remaining -= end - start
        week = self._week_us
        nxt = -1  # cached _next_irregular result; still valid while ordinal <= nxt
        while True:
            ordinal += 1
            if self._week_skip and week and remaining > week:
                if ordinal > nxt:
                    nxt = self._next_irregular(ordinal)
                # (remaining - 1) // week: never consume the final stretch by skipping,
                # so the deadline itself is always located by the exact per-day code.
                weeks = min((nxt - ordinal) // 7, (remaining - 1) // week)
                if weeks > 0:
                    remaining -= weeks * week
                    ordinal += weeks * 7
            self._guard(ordinal, origin)
            iv = self._day(ordinal)
            for i in range(0, len(iv), 2):
                span = iv[i + 1] - iv[i]
                if remaining <= span:
                    return iv[i] + remaining
                remaining -= span

    def _between_us(self, a: int, b: int) -> int:
        """Business µs in [a, b]; requires a <= b."""
        if self.always_open:
            return b - a
        first = ordinal = self._local_ordinal(a)
        last = self._local_ordinal(b)
        week = self._week_us
        total = 0
        nxt = -1
        while ordinal <= last:
            if self._week_skip and week and ordinal > first and last - ordinal >= 7:
                if ordinal > nxt:
                    nxt = self._next_irregular(ordinal)
                # Only whole days strictly between a's and b's dates are skipped.
                weeks = min((nxt - ordinal) // 7, (last - ordinal) // 7)
                if weeks > 0:
                    total += weeks * week
                    ordinal += weeks * 7
                    continue
            iv = self._day(ordinal)
            for i in range(0, len(iv), 2):
                lo, hi = max(iv[i], a), min(iv[i + 1], b)
                if hi > lo:
                    total += hi - lo
            ordinal += 1
        return total

    def _nth_business_day_after(self, ordinal: int, n: int) -> int:
        """Ordinal of the n-th (n >= 1) business day strictly after ``ordinal``."""
        origin = ordinal
        remaining = n
        per_week = self._week_days
        nxt = -1
        while True:
            ordinal += 1
            if self._week_skip and per_week and remaining > per_week:
                if ordinal > nxt:
                    nxt = self._next_irregular(ordinal)
                weeks = min((nxt - ordinal) // 7, (remaining - 1) // per_week)
                if weeks > 0:
                    remaining -= weeks * per_week
                    ordinal += weeks * 7
            self._guard(ordinal, origin)
            if self._day(ordinal):
                remaining -= 1
                if remaining == 0:
                    return ordinal

    def _add_days_us(self, t: int, days: int) -> int:
        start, ordinal = self._next_open(t)
        if days == 0:
            return start
        iv = self._day(ordinal)
        if start == iv[0]:
            # The clock starts at an opening (ticket arrived overnight/weekend or exactly at
            # opening): that day counts as day 1 and the deadline is its N-th day's close.
            target = ordinal if days == 1 else self._nth_business_day_after(ordinal, days - 1)
            return self._day(target)[-1]
        target = self._nth_business_day_after(ordinal, days)
        wall = _from_us(start).astimezone(self.zone).time()
        wanted = _to_us(datetime.combine(date.fromordinal(target), wall, tzinfo=self.zone))
        return _clamp_into(self._day(target), wanted)

    def _add_calendar_us(self, t: int, minutes_us: int, days: int) -> int:
        if days:
            local = _from_us(t).astimezone(self.zone)
            shifted = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=self.zone)
            t = _to_us(shifted)
        return t + minutes_us

    def _direct_us(self, t: int, target: SlaDuration) -> int:
        unit = target.unit
        if unit == "business_minutes":
            return self._add_us(t, _amount_us(target.amount))
        if unit == "calendar_minutes":
            return t + _amount_us(target.amount)
        if unit == "business_days":
            return self._add_days_us(t, int(target.amount))
        return self._add_calendar_us(t, 0, int(target.amount))

    def _budget_us(self, t: int, target: SlaDuration, direct: int) -> int:
        # Day targets are turned into the clock time they represent from this start, so
        # half-days and holidays count exactly as add_business_days/add_calendar count them.
        if target.unit == "business_minutes" or target.unit == "calendar_minutes":
            return _amount_us(target.amount)
        if target.unit == "business_days":
            return self._between_us(t, direct)
        return direct - t

    def _consume(
        self, t: int, budget: int, pauses: list[tuple[int, int | None]], business: bool
    ) -> tuple[int | None, int]:
        """Instant when ``budget`` clock µs have run outside pauses, else (None, budget left)."""
        cursor, remaining = t, budget
        for p_start, p_end in pauses:
            if p_end is not None and p_end <= cursor:
                continue
            if p_start > cursor:
                avail = self._between_us(cursor, p_start) if business else p_start - cursor
                if remaining <= avail:
                    return (self._add_us(cursor, remaining) if business else cursor + remaining), 0
                remaining -= avail
            if p_end is None:
                return None, remaining
            cursor = p_end
        return (self._add_us(cursor, remaining) if business else cursor + remaining), 0

    def _elapsed_us(self, t: int, end: int, pauses: list[tuple[int, int | None]], business: bool) -> int:
        total, cursor = 0, t
        for p_start, p_end in pauses:
            if cursor >= end:
                break
            if p_end is not None and p_end <= cursor:
                continue
            if p_start > cursor:
                seg_end = min(p_start, end)
                total += self._between_us(cursor, seg_end) if business else seg_end - cursor
            if p_end is None:
                return total
            cursor = max(cursor, p_end)
        if cursor < end:
            total += self._between_us(cursor, end) if business else end - cursor
        return total

    # ------------------------------------------------------------------ public API

    def is_open(self, at: datetime) -> bool:
        """True if the desk is open at ``at`` (intervals are half-open)."""
        t = _to_us(at)
        if self.always_open:
            return True
        iv = self._day(self._local_ordinal(t))
        return any(iv[i] <= t < iv[i + 1] for i in range(0, len(iv), 2))

    def next_open(self, at: datetime) -> datetime:
        """``at`` if open, otherwise the next opening instant (UTC)."""
        t = _to_us(at)
        return _from_us(t if self.always_open else self._next_open(t)[0])

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """Earliest instant by which ``minutes`` of open time have run since ``start`` (see module rules)."""
        t = _to_us(start)
        amount = _amount_us(minutes)
        if amount == 0:
            return self.next_open(start)
        return _from_us(self._add_us(t, amount))

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Deadline ``days`` business days after ``start``, keeping the time of day (see module rules)."""
        t = _to_us(start)
        return _from_us(self._add_days_us(t, _count(days, "days")))

    def add_calendar(self, start: datetime, minutes: float = 0, days: int = 0) -> datetime:
        """Same local wall time ``days`` calendar days later, plus ``minutes`` elapsed minutes."""
        t = _to_us(start)
        return _from_us(self._add_calendar_us(t, _amount_us(minutes), _count(days, "days")))

    def business_minutes_between(self, a: datetime, b: datetime) -> float:
        """Open minutes between ``a`` and ``b`` (negative if ``b`` precedes ``a``)."""
        ta, tb = _to_us(a), _to_us(b)
        if tb < ta:
            return -self._between_us(tb, ta) / _US_PER_MINUTE
        return self._between_us(ta, tb) / _US_PER_MINUTE

    def deadline(self, start: datetime, target: SlaDuration) -> datetime:
        """Deadline for ``target`` measured from ``start`` with no pauses."""
        return _from_us(self._direct_us(_to_us(start), target))

    def deadline_with_pauses(
        self, start: datetime, target: SlaDuration, pauses: Iterable[Pause] = ()
    ) -> datetime | None:
        """Deadline for ``target`` with the clock stopped during ``pauses``; ``None`` while held."""
        t = _to_us(start)
        merged = _merge_pauses(pauses)
        direct = self._direct_us(t, target)
        if not any(ps < direct and (pe is None or pe > t) for ps, pe in merged):
            return _from_us(direct)
        due, _ = self._consume(t, self._budget_us(t, target, direct), merged, target.business)
        return None if due is None else _from_us(due)

    def target_minutes(self, start: datetime, target: SlaDuration) -> float:
        """Clock minutes that ``target`` represents from ``start`` (business or elapsed)."""
        t = _to_us(start)
        return self._budget_us(t, target, self._direct_us(t, target)) / _US_PER_MINUTE

    def elapsed_minutes(
        self, start: datetime, end: datetime, pauses: Iterable[Pause] = (), *, business: bool = True
    ) -> float:
        """Clock minutes run between ``start`` and ``end`` excluding pauses (0 if end <= start)."""
        t, e = _to_us(start), _to_us(end)
        if e <= t:
            return 0.0
        return self._elapsed_us(t, e, _merge_pauses(pauses), business) / _US_PER_MINUTE


def _clamp_into(iv: tuple[int, ...], wanted: int) -> int:
    """Latest open instant <= wanted within the day (interval ends count), else the opening."""
    best = iv[0]
    for i in range(0, len(iv), 2):
        if wanted < iv[i]:
            break
        if wanted < iv[i + 1]:
            return wanted
        best = iv[i + 1]
    return best


def _merge_pauses(pauses: Iterable[Pause]) -> list[tuple[int, int | None]]:
    """Validate, sort and merge pause intervals into epoch µs."""
    items: list[tuple[int, int | None]] = []
    for pause in pauses:
        if not isinstance(pause, tuple | list) or len(pause) != 2:
            raise ValueError(f"a pause must be a (start, end | None) pair, got {pause!r}")
        p_start = _to_us(pause[0])
        p_end = None if pause[1] is None else _to_us(pause[1])
        if p_end is not None and p_end < p_start:
            raise ValueError(f"pause ends before it starts: {pause!r}")
        items.append((p_start, p_end))
    items.sort(key=lambda item: item[0])
    merged: list[tuple[int, int | None]] = []
    for p_start, p_end in items:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break  # everything after an open-ended pause is already paused
            if p_start <= last_end:
                merged[-1] = (last_start, None if p_end is None else max(last_end, p_end))
                continue
        merged.append((p_start, p_end))
    return merged


DEFAULT_CALENDAR_CONFIGS: dict[str, CalendarConfig] = {
    "business": CalendarConfig(
        name="business",
        timezone="Asia/Taipei",
        weekly_hours={day: ["09:00-12:00", "13:00-18:00"] for day in WEEKDAYS[:5]},
        holiday_sets=["tw"],
    ),
    "24x7": CalendarConfig(name="24x7", timezone="Asia/Taipei", mode="24x7"),
}


def default_calendars() -> dict[str, BusinessCalendar]:
    """Fresh calendars for the seed policies: ``business`` (Taipei, TW public holidays of every year) and ``24x7``."""
    return {name: BusinessCalendar(cfg) for name, cfg in DEFAULT_CALENDAR_CONFIGS.items()}
