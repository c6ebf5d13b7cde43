"""Deadline punctuality per month of receipt: the one computation behind complaint and regulator-case statistics.

A case is on time (done by its due time), late (done after it), overdue (not done, past due) or pending (not done,
not yet due). Months are those of the brand's timezone; the rate counts decided cases only, so a month whose cases
are still pending has no rate rather than a misleading 0 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

S = TypeVar("S")


class DeadlineStats(BaseModel):
    """On-time figures of one deadline over the cases received in a period."""

    on_time: int = 0
    late: int = 0
    overdue_open: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        """Cases whose punctuality is known (met, met late, or unmet past due)."""
        return self.on_time + self.late + self.overdue_open

    def rate(self) -> float | None:
        """Share met on time among decided cases (None when nothing is decided yet)."""
        return round(self.on_time / self.decided, 4) if self.decided else None

    def count(self, done: datetime | None, due: datetime, now: datetime) -> None:
        """Tally one case done at `done` (None: not yet) against its `due` time."""
        if done is not None:
            if done <= due:
                self.on_time += 1
            else:
                self.late += 1
        elif now > due:
            self.overdue_open += 1
        else:
            self.pending += 1


def year_range(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of `year` in the brand's timezone, for the query's received-at filter."""
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def by_month(
    rows: Iterable[Sequence[Any]],
    *,
    year: int,
    tz: ZoneInfo,
    new: Callable[[str], S],
    add: Callable[[S, Sequence[Any]], None],
) -> tuple[list[S], S]:
    """Twelve buckets ("YYYY-MM") and the year's: each row (received_at first) is added to its month and the year."""
    months = {f"{year}-{m:02d}": new(f"{year}-{m:02d}") for m in range(1, 13)}
    total = new(str(year))
    for row in rows:
        for bucket in (months[row[0].astimezone(tz).strftime("%Y-%m")], total):
            add(bucket, row)
    return list(months.values()), total
