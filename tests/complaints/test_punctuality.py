"""complaints.punctuality: the one on-time computation behind complaint and regulator-case statistics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu.complaints.punctuality import DeadlineStats, by_month, year_range

NOW = datetime(2026, 6, 15, tzinfo=UTC)
DUE = NOW - timedelta(days=1)


def test_each_case_lands_in_one_column() -> None:
    s = DeadlineStats()
    s.count(DUE - timedelta(hours=1), DUE, NOW)  # on time
    s.count(DUE, DUE, NOW)  # exactly at the deadline is on time
    s.count(DUE + timedelta(hours=1), DUE, NOW)  # late
    s.count(None, DUE, NOW)  # overdue, still open
    s.count(None, NOW + timedelta(days=1), NOW)  # pending, not due yet
    assert (s.on_time, s.late, s.overdue_open, s.pending, s.decided) == (2, 1, 1, 1, 4)
    assert s.rate() == 0.5
    assert DeadlineStats().rate() is None  # nothing decided: no rate, not 0 %


def test_months_follow_the_brand_timezone() -> None:
    tz = ZoneInfo("Asia/Taipei")
    start, end = year_range(2026, tz)
    assert start == datetime(2025, 12, 31, 16, tzinfo=UTC) and end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    rows = [
        (datetime(2026, 1, 31, 17, tzinfo=UTC), None),  # 1 February 01:00 in Taipei
        (datetime(2026, 1, 31, 15, tzinfo=UTC), None),  # still 31 January in Taipei
        (datetime(2025, 12, 31, 16, tzinfo=UTC), None),  # New Year's midnight in Taipei
    ]

    def add(bucket: dict[str, Any], row: Sequence[Any]) -> None:
        bucket["n"] += 1

    months, total = by_month(rows, year=2026, tz=tz, new=lambda p: {"p": p, "n": 0}, add=add)
    assert [m["p"] for m in months] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert [m["n"] for m in months[:3]] == [2, 1, 0]
    assert total == {"p": "2026", "n": 3}
