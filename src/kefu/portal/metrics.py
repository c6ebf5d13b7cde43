"""Published service metrics (透明化數據看板): brand-wide aggregates from kefu.analytics for the public help centre.

Opt-in per brand (setting ``public_metrics``). Only brand totals are shown — no customer data, no per-agent or
per-team figures — and a figure whose sample is smaller than ``MIN_SAMPLE`` is withheld, so a single customer's case
cannot be read off the page. Results are kept per process for ``CACHE_SECONDS`` per brand and period, so a public
page hit does not cost a dashboard's worth of queries.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kefu.analytics import service as analytics
from kefu.analytics.metrics import METRICS
from kefu.brands.models import Brand
from kefu.core.db import utcnow
from kefu.core.l10n import zone

MIN_SAMPLE = 10  # small-number suppression: fewer cases than this and the figure is not published
CACHE_SECONDS = 300.0
RECENT_DAYS = 30
PAST_MONTHS = 2

# (figure key, registry metric key whose definition is shown, unit): the published figures, in page order.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("first_response_p50", "first_response_time", "seconds"),
    ("resolution_p50", "resolution_time", "seconds"),
    ("sla_rate", "sla_compliance", "percent"),
    ("csat_average", "csat", "score"),
    ("csat_response_rate", "csat", "percent"),
    ("complaint_closure_24h", "complaint_closure_24h", "percent"),
    ("regulator_on_time", "regulator_on_time", "percent"),
    ("bot_containment", "bot_containment", "percent"),
)


@dataclass(frozen=True)
class Figure:
    """One published number: its value (None when withheld or no data) and the size of the sample behind it."""

    key: str
    metric: str
    unit: str
    value: float | None
    sample: int

    @property
    def suppressed(self) -> bool:
        """True when the sample is too small to publish (including an empty one)."""
        return self.sample < MIN_SAMPLE


@dataclass(frozen=True)
class Period:
    """A reporting period: 'recent' (the last 30 days) or a calendar month in the brand's timezone."""

    kind: str
    start: datetime
    end: datetime
    figures: tuple[Figure, ...]


def enabled(brand: Brand) -> bool:
    """Whether the brand publishes its service metrics (setting ``public_metrics``, off by default)."""
    return (brand.settings or {}).get("public_metrics") is True


def periods(brand: Brand, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """The last 30 days (to the hour) and the previous calendar months in the brand's timezone, newest first."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = [("recent", end - timedelta(days=RECENT_DAYS), end)]
    local = now.astimezone(zone(brand.timezone))
    month_end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(PAST_MONTHS):
        month_start = (month_end - timedelta(days=1)).replace(day=1)
        out.append(("month", month_start.astimezone(UTC), month_end.astimezone(UTC)))
        month_end = month_start
    return out


def _figures(session: Session, f: analytics.Filters) -> tuple[Figure, ...]:
    """The published figures for one period, from the same analytics functions as the internal dashboard."""
    frt = analytics.first_response(session, f)
    res = analytics.resolution(session, f)
    sla = analytics.sla_compliance(session, f)
    sat = analytics.csat(session, f)
    comp = analytics.complaints(session, f, tickets_created=0)
    reg = analytics.regulator_on_time(session, f)
    bot = analytics.bot_containment(session, f)
    raw: dict[str, tuple[Any, int]] = {
        "first_response_p50": (frt["p50"], frt["count"]),
        "resolution_p50": (res["p50"], res["count"]),
        "sla_rate": (sla["rate"], sla["decided"]),
        "csat_average": (sat["average"], sat["answered"]),
        "csat_response_rate": (sat["response_rate"], sat["sent"]),
        "complaint_closure_24h": (comp["closure_24h_rate"], comp["received"]),
        "regulator_on_time": (reg["rate"], reg["decided"]),
        "bot_containment": (bot["rate"], bot["handled"]),
    }
    out = []
    for key, metric, unit in FIGURES:
        value, sample = raw[key]
        shown = None if sample < MIN_SAMPLE or value is None else float(value)
        out.append(Figure(key=key, metric=metric, unit=unit, value=shown, sample=int(sample)))
    return tuple(out)


_cache: dict[tuple[int, str, datetime, datetime], tuple[float, tuple[Figure, ...]]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached figures (tests; a brand switching publication off needs no clearing: the page checks first)."""
    with _lock:
        _cache.clear()


def public_metrics(session: Session, brand: Brand, now: datetime | None = None) -> list[Period]:
    """The brand's published periods and figures (cached per brand and period for CACHE_SECONDS)."""
    now = now or utcnow()
    out = []
    for kind, start, end in periods(brand, now):
        key = (brand.id, kind, start, end)
        tick = time.monotonic()
        with _lock:
            hit = _cache.get(key)
        if hit is not None and tick - hit[0] < CACHE_SECONDS:
            figures = hit[1]
        else:
            f = analytics.Filters(start=start, end=end, brand_ids=(brand.id,), now=now)
            figures = _figures(session, f)
            with _lock:
                if len(_cache) > 4096:  # bounded: stale periods of many brands are dropped wholesale
                    _cache.clear()
                _cache[key] = (tick, figures)
        out.append(Period(kind=kind, start=start, end=end, figures=figures))
    return out


def definitions(locale: str) -> list[tuple[str, str]]:
    """(label, definition) of each registry metric behind the published figures, in page order, once each."""
    seen: list[str] = []
    for _, metric, _unit in FIGURES:
        if metric not in seen:
            seen.append(metric)
    return [(METRICS[m].label(locale), METRICS[m].definition(locale)) for m in seen]
