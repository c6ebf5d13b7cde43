"""Dates, times and numbers written the way each locale writes them (CLDR data via Babel), in a brand's timezone.

Styles for times (zh-TW / zh-CN / en, 2026-12-06 06:51 UTC shown in Asia/Taipei):
  datetime  2026/12/6 下午2:51 · 2026/12/6 14:51 · Dec 6, 2026, 2:51 PM
  short     2026/12/6 下午2:51 · 2026/12/6 14:51 · Dec 6, 2026, 2:51 PM  (lists and timelines: the same date)
  long      2026年12月6日 下午2:51 · 2026年12月6日 14:51 · Dec 6, 2026, 2:51 PM
  date      2026/12/6 · 2026/12/6 · Dec 6, 2026
  time      下午2:51 · 14:51 · 2:51 PM

Every console date is written one way per locale (a case's "created" and its activity list agree): numeric
year/month/day in Chinese, the month's name in English, where 11/12/2026 reads as November to one reader and
December to another. ``long`` (letters to customers) spells the month in every locale.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time, get_timezone_location
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_name, is_currency

from kefu.core.catalog import CLDR_LOCALES, DEFAULT_LOCALE, gettext

DEFAULT_ZONE = "Asia/Taipei"
DEFAULT_CURRENCY = "TWD"
Style = Literal["datetime", "short", "long", "date", "time"]
STYLES: tuple[Style, ...] = ("datetime", "short", "long", "date", "time")
# CLDR skeleton of a console date per locale ("long" is yMMMd everywhere; "time" has no date part).
_CONSOLE_DAY = {"en": "yMMMd"}
_DAY_DEFAULT = "yMd"


def _day_skeleton(style: Style, locale: str) -> str:
    return "yMMMd" if style == "long" else _CONSOLE_DAY.get(locale, _DAY_DEFAULT)


@lru_cache(maxsize=8)
def cldr_locale(locale: str) -> Locale:
    """The Babel locale for one of ours (unknown tags get zh-TW)."""
    return Locale.parse(CLDR_LOCALES.get(locale, CLDR_LOCALES[DEFAULT_LOCALE]))


def zone(tz: ZoneInfo | str | None) -> ZoneInfo:
    """A timezone from a ZoneInfo or an IANA name (default Asia/Taipei)."""
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or DEFAULT_ZONE)


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Universal", "Zulu", "Etc/Zulu"})


def format_zone(tz: ZoneInfo | str | None, locale: str, at: datetime | None = None) -> str:
    """A timezone as its readers say it, with the UTC offset at `at` (now): 台灣時間 (UTC+8), Taiwan Time (UTC+8).

    Never the IANA id ("Asia/Taipei") alone; an unknown id is shown as given.
    """
    try:
        z = zone(tz)
    except (ValueError, KeyError):
        return str(tz)
    offset = (at or datetime.now(UTC)).astimezone(z).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "-"
    utc = "UTC" if minutes == 0 else f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    if z.key in _UTC_NAMES:
        return gettext("tz_utc", locale)
    name = get_timezone_location(z, locale=cldr_locale(locale))
    return gettext("tz_with_offset", locale).format(name=name, offset=utc)


def format_datetime(
    value: datetime | None, locale: str, tz: ZoneInfo | str | None = None, style: Style = "datetime"
) -> str:
    """A stored (UTC or aware) time in the zone, written per locale; naive values are taken as UTC; None is ''."""
    if value is None:
        return ""
    if style not in STYLES:
        raise ValueError(f"unknown datetime style {style!r}")
    loc = cldr_locale(locale)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    local = aware.astimezone(zone(tz))
    clock = format_time(local, "short", locale=loc)
    if style == "time":
        return clock
    day = format_skeleton(_day_skeleton(style, locale), local, locale=loc)
    if style == "date":
        return day
    pattern = str(loc.datetime_formats["medium" if style == "long" else "short"])
    return pattern.replace("{1}", day).replace("{0}", clock)


def format_month(value: datetime, locale: str, tz: ZoneInfo | str | None = None) -> str:
    """The calendar month a time falls in, in the zone, written per locale (2026年11月, November 2026)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return format_skeleton("yMMMM", aware.astimezone(zone(tz)), locale=cldr_locale(locale))


def format_day(value: date | None, locale: str, year: bool = True) -> str:
    """A calendar date (no timezone involved), written per locale; ``year=False`` for chart axes (12/6, Dec 6)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    day = datetime(value.year, value.month, value.day)
    skeleton = _CONSOLE_DAY.get(locale, _DAY_DEFAULT)
    return format_skeleton(skeleton if year else skeleton.lstrip("y"), day, locale=cldr_locale(locale))


def format_number(value: float | int | Decimal | None, locale: str, decimals: int | None = None) -> str:
    """A number with the locale's grouping and decimal signs; `decimals` fixes the fraction digits."""
    if value is None:
        return ""
    if decimals is None:
        return format_decimal(value, locale=cldr_locale(locale))
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern, locale=cldr_locale(locale))


def format_ratio(value: float | Decimal | None, locale: str, decimals: int = 0) -> str:
    """A ratio (0.853) as a percentage in the locale's style (85%)."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
    return format_percent(value, format=pattern, locale=cldr_locale(locale))


def known_currency(code: str | None) -> bool:
    """Whether ``code`` is an ISO 4217 currency CLDR knows (upper case, as stored on a brand)."""
    return bool(code) and code == str(code).upper() and is_currency(str(code))


def format_money(value: float | int | Decimal | None, currency: str | None, locale: str) -> str:
    """An amount in a brand's currency (unknown or missing: TWD) as the reader's locale writes money; None is ''."""
    # NT$1,234.00 in en and zh-CN; $1,234.00 in zh-TW, where TWD is the local dollar (US$ for USD there).
    if value is None:
        return ""
    code = currency if currency and known_currency(currency) else DEFAULT_CURRENCY
    return format_currency(value, code, locale=cldr_locale(locale))


def currency_name(code: str, locale: str) -> str:
    """A currency as the reader names it (新台幣, 新台币, New Taiwan Dollar)."""
    return str(get_currency_name(code, locale=cldr_locale(locale))) if known_currency(code) else code


def wall_time(text: str, tz: ZoneInfo | str | None) -> datetime:
    """A form's datetime-local value ("2026-03-02T09:30") read as a wall time in the brand's zone; ValueError if bad."""
    return datetime.fromisoformat(text).replace(tzinfo=zone(tz))
