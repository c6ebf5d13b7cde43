"""Jinja filters that write times and numbers per page locale: {{ ts|datetime(brand_id) }}, {{ n|number }}.

The zone argument may be a brand id (looked up in the page's `local` LocalTime map), an IANA name or a ZoneInfo;
without one the page's `tz` variable, else Asia/Taipei, is used. The locale is the page's `locale`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from kefu.core.catalog import DEFAULT_LOCALE
from kefu.core.l10n import (
    DEFAULT_ZONE,
    Style,
    currency_name,
    format_datetime,
    format_day,
    format_money,
    format_number,
    format_ratio,
    format_zone,
)


def _locale(ctx: Context) -> str:
    return str(ctx.get("locale") or DEFAULT_LOCALE)


def _zone(ctx: Context, where: int | str | ZoneInfo | None) -> ZoneInfo | str:
    if isinstance(where, ZoneInfo | str):
        return where
    if isinstance(where, int):
        zones: dict[int, ZoneInfo] = getattr(ctx.get("local"), "zones", {})
        return zones.get(where, DEFAULT_ZONE)
    page_tz = ctx.get("tz")
    return page_tz if isinstance(page_tz, ZoneInfo | str) and page_tz else DEFAULT_ZONE


@pass_context
def datetime_filter(
    ctx: Context, value: datetime | None, where: int | str | ZoneInfo | None = None, style: Style = "datetime"
) -> str:
    """{{ ts|datetime(brand_id) }}, {{ ts|datetime(brand_id, 'short') }}, {{ ts|datetime('Asia/Shanghai') }}."""
    return format_datetime(value, _locale(ctx), _zone(ctx, where), style)


@pass_context
def date_filter(ctx: Context, value: date | datetime | None, where: int | str | ZoneInfo | None = None) -> str:
    """{{ ts|date(brand_id) }} for an instant (in the zone); {{ day|date }} for a calendar date."""
    if isinstance(value, datetime):
        return format_datetime(value, _locale(ctx), _zone(ctx, where), "date")
    return format_day(value, _locale(ctx))


@pass_context
def number_filter(ctx: Context, value: float | int | Decimal | None, decimals: int | None = None) -> str:
    """{{ n|number }}, {{ avg|number(1) }}."""
    return format_number(value, _locale(ctx), decimals)


@pass_context
def money_filter(ctx: Context, value: float | int | Decimal | None, currency: str | None = None) -> str:
    """{{ customer.cumulative_spend|money(brand.currency) }} → NT$12,345.00 (en), $12,345.00 (zh-TW)."""
    return format_money(value, currency, _locale(ctx))


@pass_context
def currency_name_filter(ctx: Context, code: str) -> str:
    """{{ 'TWD'|currency_name }} → 新台幣 (zh-TW), New Taiwan Dollar (en)."""
    return currency_name(code, _locale(ctx))


@pass_context
def percent_filter(ctx: Context, value: float | Decimal | None, decimals: int = 0) -> str:
    """{{ 0.853|percent }} → 85%."""
    return format_ratio(value, _locale(ctx), decimals)


@pass_context
def zone_filter(ctx: Context, value: int | str | ZoneInfo | None = None) -> str:
    """{{ brand.timezone|zone }} → 台灣時間（UTC+8）: a zone as the page's readers name it, never the IANA id."""
    return format_zone(_zone(ctx, value), _locale(ctx))


@pass_context
def local_stamp_filter(ctx: Context, value: str | None, where: int | str | ZoneInfo | None = None) -> str:
    """{{ "2026-12-07 00:00"|local_stamp(zone) }}: a wall-clock "YYYY-MM-DD HH:MM" of that zone, written per locale."""
    if not value:
        return ""
    tz = _zone(ctx, where)
    local = datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
    return format_datetime(local, _locale(ctx), tz, "short")


def filters() -> dict[str, Any]:
    """The locale-aware Jinja filters, by name (a page module adds them to its own environment)."""
    return {
        "datetime": datetime_filter,
        "date": date_filter,
        "number": number_filter,
        "money": money_filter,
        "currency_name": currency_name_filter,
        "percent": percent_filter,
        "zone": zone_filter,
        "local_stamp": local_stamp_filter,
    }
