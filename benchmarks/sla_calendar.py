"""Print deadlines/second of the SLA calendar for business-minute and business-day targets."""

# Run: .venv/bin/python benchmarks/sla_calendar.py [N]   (N deadlines per case, default 200 000)

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kefu.sla import BusinessCalendar, SlaDuration, default_calendars


def _starts(n: int, seed: int) -> list[datetime]:
    rng = random.Random(seed)
    lo = datetime(2026, 1, 1, tzinfo=UTC)
    return [lo + timedelta(seconds=rng.randrange(365 * 86_400)) for _ in range(n)]


def _bench(label: str, n: int, fn: Callable[[datetime, int], object], amounts: list[int]) -> None:
    starts = _starts(n, seed=len(label))
    t0 = time.perf_counter()
    for start, amount in zip(starts, amounts, strict=False):
        fn(start, amount)
    elapsed = time.perf_counter() - t0
    print(f"{label:<58} {n / elapsed:>12,.0f} deadlines/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rng = random.Random(7)
    cal: BusinessCalendar = default_calendars()["business"]  # Taipei, lunch break, TW 2026 holidays
    ny = BusinessCalendar(
        {
            "timezone": "America/New_York",
            "weekly_hours": {d: "09:00-17:00" for d in ["mon", "tue", "wed", "thu", "fri"]},
        }
    )
    short = [rng.choice([15, 30, 120, 240, 480]) for _ in range(n)]
    long = [rng.randrange(10_000, 200_000) for _ in range(n)]
    days = [rng.choice([1, 3, 5]) for _ in range(n)]
    many_days = [rng.randrange(20, 400) for _ in range(n)]
    paused = SlaDuration(120, "business_minutes")

    print(f"python {sys.version.split()[0]}, N = {n:,} per case")
    _bench("business minutes 15-480 (Taipei, holidays)", n, cal.add_business_minutes, short)
    _bench("business minutes 10k-200k (week skipping)", n, cal.add_business_minutes, long)
    _bench("business minutes 15-480 (New York, DST)", n, ny.add_business_minutes, short)
    _bench("business days 1/3/5 (Taipei, holidays)", n, cal.add_business_days, days)
    _bench("business days 20-400 (week skipping)", n, cal.add_business_days, many_days)
    _bench(
        "120 business minutes with one 3 h pause",
        n,
        lambda s, _a: cal.deadline_with_pauses(s, paused, [(s + timedelta(hours=1), s + timedelta(hours=4))]),
        short,
    )


if __name__ == "__main__":
    main()
