"""Admin form parsing: labelled fields in, domain dicts out, with a localized message per bad field.

Each parser takes the posted form (field name → text) and the reader's string table and returns the parsed
value together with ``errors`` (field name → message).  A non-empty ``errors`` means nothing is saved and the
page shows the same form again with what the admin typed and the message next to each field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kefu.sla.calendar import WEEKDAYS, BusinessCalendar, CalendarConfig

FormData = Mapping[str, str]
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PREFIX = re.compile(r"[A-Z][A-Z0-9]{0,7}")
SHORTCUT = re.compile(r"[\w-]{1,64}")
_WHOLE = re.compile(r"[0-9]{1,9}")
_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
_HHMM = r"([01]?[0-9]|2[0-4]):[0-5][0-9]"
_RANGE = re.compile(rf"{_HHMM}\s*-\s*{_HHMM}")
SLA_TARGET_KINDS = ("first_response", "next_update", "resolution", "csat_survey")
SLA_UNITS = ("minutes", "hours", "business_minutes", "business_hours", "business_days", "calendar_days")
SLA_CONDITIONS = ("category", "priority", "tier", "channel", "complaint_level")
ROUTING_LIST_CONDITIONS = ("category", "channel", "priority", "language", "tier", "tag")


@dataclass
class Parsed:
    """A parsed form: the value for the service, and the field errors (empty when valid)."""

    value: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def text(form: FormData, name: str) -> str:
    """A trimmed text field ('' when absent)."""
    return str(form.get(name, "") or "").strip()


def split_values(raw: str) -> list[str]:
    """Comma-separated values (full-width commas too, since IME users type them)."""
    return [v.strip() for v in re.split(r"[,，、]", raw) if v.strip()]


def join_values(value: Any) -> str:
    """The inverse of split_values for showing a stored condition."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def whole(form: FormData, name: str, t: Mapping[str, str], errors: dict[str, str], *, minimum: int = 1) -> int | None:
    """An optional whole number >= minimum; records an error for anything else."""
    raw = text(form, name)
    if not raw:
        return None
    if not _WHOLE.fullmatch(raw) or int(raw) < minimum:
        errors[name] = t["ae_whole"] if minimum >= 1 else t["ae_number"]
        return None
    return int(raw)


def percent(form: FormData, name: str, t: Mapping[str, str], errors: dict[str, str]) -> float | None:
    """An optional percentage above 0 and at most 100 (e.g. "5" or "2.5"); records an error for anything else."""
    raw = text(form, name).rstrip("%").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:  # also refuses nan and inf
        errors[name] = t["ae_qa_percent"]
        return None
    return value


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def check_currency(form: FormData, name: str, t: Mapping[str, str], errors: dict[str, str]) -> str:
    """An ISO 4217 code (typed in any case; stored upper case)."""
    from kefu.core.l10n import known_currency

    code = text(form, name).upper()
    if not code:
        errors[name] = t["ae_required"]
    elif not known_currency(code):
        errors[name] = t["ae_currency"]
    return code


def check_timezone(form: FormData, name: str, t: Mapping[str, str], errors: dict[str, str]) -> str:
    """A known IANA zone name."""
    tz = text(form, name)
    if not tz:
        errors[name] = t["ae_required"]
        return tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors[name] = t["ae_timezone"]
    return tz


# ----------------------------------------------------------------- brands


def tier_rows(tiers: Sequence[Mapping[str, Any]], blank: int = 2) -> list[dict[str, str]]:
    """Stored tiers as form rows, plus a few blank rows for new tiers."""
    rows = [
        {"level": str(t.get("level", "")), "name": str(t.get("name", "")), "min": _num_text(t.get("min_spend"))}
        for t in tiers
    ]
    return rows + [{"level": "", "name": "", "min": ""} for _ in range(blank)]


def posted_tier_rows(form: FormData) -> list[dict[str, str]]:
    """The tier rows exactly as they were posted (shown again after an error)."""
    indexes = sorted({int(k.rsplit("_", 1)[1]) for k in form if re.fullmatch(r"tier_(level|name|min)_[0-9]{1,3}", k)})
    return [
        {
            "level": text(form, f"tier_level_{i}"),
            "name": text(form, f"tier_name_{i}"),
            "min": text(form, f"tier_min_{i}"),
        }
        for i in indexes
    ]


def _num_text(value: Any) -> str:
    if value is None:
        return ""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.2f}"


def parse_tiers(form: FormData, t: Mapping[str, str]) -> Parsed:
    """Tier rows tier_level_N / tier_name_N / tier_min_N → [{level, name, min_spend}], checked like the service."""
    out = Parsed()
    rows: list[tuple[int, dict[str, Any]]] = []
    indexes = sorted({int(k.rsplit("_", 1)[1]) for k in form if re.fullmatch(r"tier_(level|name|min)_[0-9]{1,3}", k)})
    for i in indexes:
        level, name, spend = text(form, f"tier_level_{i}"), text(form, f"tier_name_{i}"), text(form, f"tier_min_{i}")
        if not (level or name or spend):
            continue
        if not (level and name and spend):
            out.errors[f"tier_row_{i}"] = t["ae_tier_row"]
            continue
        if not _WHOLE.fullmatch(level) or int(level) < 1:
            out.errors[f"tier_level_{i}"] = t["ae_whole"]
            continue
        if not _NUMBER.fullmatch(spend):
            out.errors[f"tier_min_{i}"] = t["ae_number"]
            continue
        rows.append((i, {"level": int(level), "name": name[:100], "min_spend": float(spend)}))
    if out.errors:
        return out
    if not rows:
        out.errors["tiers"] = t["ae_tier_zero"]
        return out
    rows.sort(key=lambda r: r[1]["min_spend"])
    levels = [r[1]["level"] for r in rows]
    if len(set(levels)) != len(levels) or levels != sorted(levels):
        out.errors["tiers"] = t["ae_tier_levels"]
    elif rows[0][1]["min_spend"] != 0:
        out.errors[f"tier_min_{rows[0][0]}"] = t["ae_tier_zero"]
    out.value = {"tiers": [r[1] for r in rows]}
    return out


# ----------------------------------------------------------------- SLA policies


def policy_fields(definition: Mapping[str, Any]) -> dict[str, str]:
    """A stored policy definition as the form's field values."""
    values: dict[str, str] = {"description": str(definition.get("description") or "")}
    conditions = definition.get("conditions") or {}
    for key in SLA_CONDITIONS:
        values[f"cond_{key}"] = join_values(conditions.get(key))
    for target in definition.get("targets") or []:
        if target.get("kind") in SLA_TARGET_KINDS:
            values[f"tgt_{target['kind']}_amount"] = str(target.get("amount", ""))
            values[f"tgt_{target['kind']}_unit"] = str(target.get("unit", ""))
    if definition.get("warn_before_percent") is not None:
        values["warn_mode"], values["warn_value"] = "percent", _num_text(definition["warn_before_percent"])
    elif definition.get("warn_before_minutes") is not None:
        values["warn_mode"], values["warn_value"] = "minutes", str(definition["warn_before_minutes"])
    else:
        values["warn_mode"], values["warn_value"] = "none", ""
    values["calendar"] = str(definition.get("calendar") or "business")
    values["sets_priority"] = str(definition.get("sets_priority") or "")
    values["team"] = str(definition.get("team") or "")
    escalation = definition.get("escalation") or {}
    values["esc_trigger"] = str(escalation.get("trigger") or "breach")
    climb = escalation.get("climb_every_minutes", 60)
    values["esc_climb"] = "" if climb is None else str(climb)
    return values


def parse_policy(
    form: FormData,
    t: Mapping[str, str],
    stored: Mapping[str, Any],
    *,
    calendars: Sequence[str],
    priorities: Sequence[str],
) -> Parsed:
    """Form fields → a policy definition; keys the form does not show (milestones, extra conditions) are kept."""
    out = Parsed()
    definition: dict[str, Any] = {k: v for k, v in stored.items() if k not in ("name",)}
    conditions = {k: v for k, v in (stored.get("conditions") or {}).items() if k not in SLA_CONDITIONS}
    for key in SLA_CONDITIONS:
        values = split_values(text(form, f"cond_{key}"))
        if values:
            conditions[key] = _one_or_list(values)
    definition["conditions"] = conditions
    definition["description"] = text(form, "description")[:500]
    targets = [dict(tg) for tg in stored.get("targets") or [] if tg.get("kind") == "milestone"]
    for kind in SLA_TARGET_KINDS:
        amount = whole(form, f"tgt_{kind}_amount", t, out.errors)
        unit = text(form, f"tgt_{kind}_unit")
        if amount is not None and unit not in SLA_UNITS:
            out.errors[f"tgt_{kind}_unit"] = t["ae_choice"]
        elif amount is not None:
            targets.append({"kind": kind, "amount": amount, "unit": unit})
    if not targets and not any(k.startswith("tgt_") for k in out.errors):
        out.errors["targets"] = t["ae_one_target"]
    definition["targets"] = targets
    mode = text(form, "warn_mode") or "none"
    definition.pop("warn_before_percent", None)
    definition.pop("warn_before_minutes", None)
    if mode == "percent":
        raw = text(form, "warn_value")
        if not _NUMBER.fullmatch(raw) or not 0 < float(raw) < 100:
            out.errors["warn_value"] = t["ae_percent"]
        else:
            definition["warn_before_percent"] = float(raw)
    elif mode == "minutes":
        minutes = whole(form, "warn_value", t, out.errors)
        if minutes is None and "warn_value" not in out.errors:
            out.errors["warn_value"] = t["ae_required"]
        definition["warn_before_minutes"] = minutes
    elif mode != "none":
        out.errors["warn_mode"] = t["ae_choice"]
    calendar = text(form, "calendar")
    if calendar not in calendars:
        out.errors["calendar"] = t["ae_choice"]
    definition["calendar"] = calendar
    sets_priority = text(form, "sets_priority")
    if sets_priority and sets_priority not in priorities:
        out.errors["sets_priority"] = t["ae_choice"]
    definition["sets_priority"] = sets_priority or None
    definition["team"] = text(form, "team")[:64] or None
    escalation = dict(stored.get("escalation") or {})
    trigger = text(form, "esc_trigger") or "breach"
    if trigger not in ("breach", "warn"):
        out.errors["esc_trigger"] = t["ae_choice"]
    escalation["trigger"] = trigger
    escalation["climb_every_minutes"] = whole(form, "esc_climb", t, out.errors)
    definition["escalation"] = escalation
    out.value = definition
    return out


# ----------------------------------------------------------------- business calendars


def _ranges(raw: str) -> list[str] | None:
    parts = split_values(raw.replace(";", ","))
    if not all(_RANGE.fullmatch(p) for p in parts):
        return None
    return [re.sub(r"\s+", "", p) for p in parts]


def calendar_fields(config: Mapping[str, Any]) -> dict[str, str]:
    """A stored calendar config as the form's field values."""
    weekly = config.get("weekly_hours") or {}
    values = {f"hours_{day}": ", ".join(weekly.get(day, [])) for day in WEEKDAYS}
    values["timezone"] = str(config.get("timezone") or "Asia/Taipei")
    values["mode"] = str(config.get("mode") or "business_hours")
    values["holidays"] = "\n".join(f"{d} {n}".strip() for d, n in sorted((config.get("holidays") or {}).items()))
    makeup = config.get("makeup_workdays") or {}
    values["makeup"] = "\n".join(
        (f"{d}" if rule == "workday" else f"{d} {rule if isinstance(rule, str) else ', '.join(rule)}")
        for d, rule in sorted(makeup.items())
    )
    special = config.get("special_hours") or {}
    values["special"] = "\n".join(f"{d} {', '.join(h)}" for d, h in sorted(special.items()))
    return values


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        return None


def parse_calendar(
    form: FormData,
    t: Mapping[str, str],
    stored: Mapping[str, Any],
    *,
    holiday_sets: Sequence[str],
    chosen_sets: Sequence[str],
) -> Parsed:
    """Form fields → a calendar config (CalendarConfig validates it again in the service)."""
    out = Parsed()
    config: dict[str, Any] = {"name": stored.get("name") or "default"}
    config["timezone"] = check_timezone(form, "timezone", t, out.errors)
    mode = text(form, "mode") or "business_hours"
    if mode not in ("business_hours", "24x7"):
        out.errors["mode"] = t["ae_choice"]
    config["mode"] = mode
    weekly: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        raw = text(form, f"hours_{day}")
        if not raw:
            continue
        ranges = _ranges(raw)
        if ranges is None:
            out.errors[f"hours_{day}"] = t["ae_hours"]
        else:
            weekly[day] = ranges
    config["weekly_hours"] = weekly
    holidays: dict[str, str] = {}
    for n, line in enumerate(text(form, "holidays").splitlines(), 1):
        if not line.strip():
            continue
        day_text, _, name = line.strip().partition(" ")
        when = _date(day_text)
        if when is None:
            out.errors.setdefault("holidays", t["ae_date_line"].format(n=n))
        else:
            holidays[when.isoformat()] = name.strip()[:100]
    config["holidays"] = holidays
    makeup: dict[str, Any] = {}
    for n, line in enumerate(text(form, "makeup").splitlines(), 1):
        if not line.strip():
            continue
        day_text, _, rule = line.strip().partition(" ")
        when, rule = _date(day_text), rule.strip().lower()
        ranges = _ranges(rule) if rule and rule[0].isdigit() else None
        if when is None or (rule and rule not in WEEKDAYS and rule != "workday" and ranges is None):
            out.errors.setdefault("makeup", t["ae_makeup_line"].format(n=n))
        elif when is not None:
            makeup[when.isoformat()] = ranges if ranges is not None else (rule or "workday")
    config["makeup_workdays"] = makeup
    special: dict[str, list[str]] = {}
    for n, line in enumerate(text(form, "special").splitlines(), 1):
        if not line.strip():
            continue
        day_text, _, hours = line.strip().partition(" ")
        when, ranges = _date(day_text), _ranges(hours)
        if when is None or not ranges:
            out.errors.setdefault("special", t["ae_special_line"].format(n=n))
        else:
            special[when.isoformat()] = ranges
    config["special_hours"] = special
    config["holiday_sets"] = [s for s in chosen_sets if s in holiday_sets]
    out.value = config
    return out


# ----------------------------------------------------------------- routing rules


def rule_fields(conditions: Mapping[str, Any]) -> dict[str, str]:
    """Stored routing conditions as the form's field values."""
    values = {f"cond_{k}": join_values(conditions.get(k)) for k in ROUTING_LIST_CONDITIONS}
    vip = conditions.get("vip")
    values["cond_vip"] = "" if vip is None else ("yes" if vip else "no")
    return values


def parse_conditions(form: FormData, t: Mapping[str, str], stored: Mapping[str, Any]) -> Parsed:
    """Condition fields → routing conditions; organisation conditions set through the API are kept."""
    out = Parsed()
    conditions: dict[str, Any] = {k: v for k, v in stored.items() if k in ("organization", "organization_id")}
    for key in ROUTING_LIST_CONDITIONS:
        values = split_values(text(form, f"cond_{key}"))
        if values:
            conditions[key] = _one_or_list(values)
    vip = text(form, "cond_vip")
    if vip in ("yes", "no"):
        conditions["vip"] = vip == "yes"
    elif vip:
        out.errors["cond_vip"] = t["ae_choice"]
    out.value = conditions
    return out


def year_view(config: Mapping[str, Any], year: int) -> list[dict[str, Any]]:
    """Twelve month grids (weeks starting Monday) with each date's kind, for the calendar's year view."""
    try:
        calendar = BusinessCalendar(CalendarConfig.model_validate(config))
    except ValueError:
        return []
    months: list[dict[str, Any]] = []
    for month in range(1, 13):
        first = date(year, month, 1)
        cells: list[tuple[int, str] | None] = [None] * first.weekday()
        day = first
        while day.month == month:
            cells.append((day.day, calendar.day_kind(day)))
            day = date.fromordinal(day.toordinal() + 1)
        cells += [None] * (-len(cells) % 7)
        months.append({"month": month, "weeks": [cells[i : i + 7] for i in range(0, len(cells), 7)]})
    return months
