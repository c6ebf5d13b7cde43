"""CPU per coverage view of a team's roster (the page computes it on every edit): 14 local days at 15-minute steps.

Run: .venv/bin/python benchmarks/shift_coverage.py [agents] — prints CPU milliseconds per view, alternating rounds.
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kefu.shifts.models import ShiftException, ShiftPattern
from kefu.shifts.service import DAY, _on, day_work


def roster(agents: int) -> tuple[dict[int, list[ShiftPattern]], dict[int, list[ShiftException]]]:
    """Agents on day, evening and night shifts with a break, one leave day each."""
    patterns: dict[int, list[ShiftPattern]] = {}
    exceptions: dict[int, list[ShiftException]] = {}
    for a in range(agents):
        start = (9 * 60, 14 * 60, 22 * 60)[a % 3]
        patterns[a] = [
            ShiftPattern(weekday=d, start_minute=start, end_minute=(start + 540) % DAY,
                         break_start_minute=start + 240, break_end_minute=start + 300)
            for d in range(7) if d != a % 7
        ]  # fmt: skip
        exceptions[a] = [ShiftException(day=date(2026, 3, 2) + timedelta(days=a % 14), available=False)]
    return patterns, exceptions


def view(patterns: dict[int, list[ShiftPattern]], exceptions: dict[int, list[ShiftException]]) -> int:
    """What `coverage` computes: on-shift count per 15-minute step over 14 days, then worked/overtime per agent."""
    zone = ZoneInfo("Asia/Taipei")
    total = 0
    for d in range(14):
        day = date(2026, 3, 2) + timedelta(days=d)
        for minute in range(0, DAY, 15):
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            total += sum(_on(patterns[a], exceptions[a], local) for a in patterns)
        for a in patterns:
            total += day_work(patterns[a], exceptions[a], day, 480)[1]
    return total


def main() -> None:
    """Alternate rounds of 10 and 30 agents; print CPU ms per view."""
    sizes = [int(sys.argv[1])] if len(sys.argv) > 1 else [10, 30]
    for round_ in range(3):
        for n in sizes:
            p, e = roster(n)
            t0 = time.process_time()
            reps = 3
            for _ in range(reps):
                view(p, e)
            ms = (time.process_time() - t0) / reps * 1000
            print(f"round {round_ + 1}: {n} agents, 14 days x 96 steps: {ms:.1f} ms CPU per coverage view")


if __name__ == "__main__":
    main()
