"""Hourly ticket rollups: dashboards count tickets from a small table instead of scanning the tickets.

`analytics_ticket_hours` holds tickets created per (brand, UTC hour, channel). A periodic job re-derives the
recent hours (the last `RECHECK_HOURS`, so late commits and channel edits are picked up) and advances
`complete_until`; `kefu analytics rollup` backfills any range. Re-deriving an hour deletes and re-inserts its rows
from the tickets, so both are idempotent. Readers combine the rolled-up whole hours before `complete_until` with
direct counts for the partial hours at the period's edges and for the hours not rolled up yet, so an answer is
always the same as the direct query (tests/analytics/test_rollups.py checks exactly that).

Tickets inserted with a `created_at` older than the recheck window (an import with `opened_at`) are counted from
the next backfill of that range: run `kefu analytics rollup --since …` after such an import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from kefu.analytics.models import RollupState, TicketHourRollup
from kefu.analytics.sql import epoch_hour
from kefu.core.db import utcnow
from kefu.tickets.models import Ticket

NAME = "ticket_hours"
RECHECK_HOURS = 48
CHUNK_HOURS = 24 * 7
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_of(at: datetime) -> int:
    """Whole hours since the epoch (floor)."""
    return int((at - EPOCH).total_seconds() // 3600)


def start_of(hour: int) -> datetime:
    """The instant an epoch hour begins."""
    return EPOCH + timedelta(hours=hour)


def read_mark(session: Session, name: str) -> int | None:
    """A rollup's completeness mark: hours before it are rolled up (None: never rolled up)."""
    # Read once per session: a dashboard asks for every metric, and each would otherwise re-read the mark.
    key = ("analytics.complete_until", name)
    if key not in session.info:
        session.info[key] = session.scalar(select(RollupState.complete_until).where(RollupState.name == name))
    return cast("int | None", session.info[key])


def advance_mark(session: Session, name: str, until: int, *, touch: bool = False) -> None:
    """Move a rollup's mark forward to `until` (never back); `touch` records the run even when it does not move."""
    session.info.pop(("analytics.complete_until", name), None)
    state = session.get(RollupState, name)
    if state is None:
        session.add(RollupState(name=name, complete_until=until, updated_at=utcnow()))
    elif until > state.complete_until:
        state.complete_until, state.updated_at = until, utcnow()
    elif touch:
        state.updated_at = utcnow()
    session.flush()


def complete_until(session: Session) -> int | None:
    """Hours before this one are rolled up (None: never rolled up)."""
    return read_mark(session, NAME)


@dataclass
class RollupResult:
    """What one rollup run did."""

    hours: int = 0
    rows: int = 0
    tickets: int = 0


def rollup_hours(session: Session, first: int, last: int, *, dry_run: bool = False) -> RollupResult:
    """Re-derive hours [first, last) from the tickets (delete + insert, idempotent)."""
    hour = epoch_hour(Ticket.created_at)
    where = and_(Ticket.created_at >= start_of(first), Ticket.created_at < start_of(last))
    grouped = (
        select(Ticket.brand_id, hour.label("hour"), Ticket.channel, func.count(Ticket.id).label("created"))
        .where(where)
        .group_by(Ticket.brand_id, hour, Ticket.channel)
    )
    result = RollupResult(hours=max(0, last - first))
    if dry_run:
        rows = session.execute(grouped).all()
        result.rows, result.tickets = len(rows), sum(int(r[3]) for r in rows)
        return result
    session.execute(delete(TicketHourRollup).where(TicketHourRollup.hour >= first, TicketHourRollup.hour < last))
    cols = [TicketHourRollup.brand_id, TicketHourRollup.hour, TicketHourRollup.channel, TicketHourRollup.created]
    session.execute(insert(TicketHourRollup).from_select(cols, grouped))
    result.rows, result.tickets = session.execute(
        select(func.count(), func.coalesce(func.sum(TicketHourRollup.created), 0)).where(
            TicketHourRollup.hour >= first, TicketHourRollup.hour < last
        )
    ).one()
    return result


def _advance(session: Session, until: int) -> None:
    advance_mark(session, NAME, until)


def backfill(
    session: Session,
    since: datetime | None,
    until: datetime | None = None,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int, RollupResult], None] | None = None,
    commit: Callable[[], None] | None = None,
) -> RollupResult:
    """Roll up [since, until) (default: the first ticket … the current hour) in weekly chunks."""
    return backfill_chunks(
        session,
        since,
        until,
        roll=rollup_hours,
        mark=complete_until,
        advance=_advance,
        chunk_end=lambda start: start + CHUNK_HOURS,
        dry_run=dry_run,
        progress=progress,
        commit=commit,
    )


def oldest_ticket(session: Session) -> datetime | None:
    """When the first ticket was created (where an open-ended backfill of ticket counts starts)."""
    return session.scalar(select(func.min(Ticket.created_at)))


def backfill_chunks(
    session: Session,
    since: datetime | None,
    until: datetime | None,
    *,
    roll: Callable[..., RollupResult],
    mark: Callable[[Session], int | None],
    advance: Callable[[Session, int], None],
    chunk_end: Callable[[int], int],
    dry_run: bool = False,
    progress: Callable[[int, int, RollupResult], None] | None = None,
    commit: Callable[[], None] | None = None,
    oldest_row: Callable[[Session], datetime | None] | None = None,
) -> RollupResult:
    """The backfill loop of every rollup table: chunks of hours, one transaction each, then the completeness mark.

    `oldest_row` finds where an open-ended backfill starts (default: the oldest ticket).
    """
    now_hour = hour_of(utcnow())
    if since is None:
        oldest = (oldest_row or oldest_ticket)(session)
        if oldest is None:
            if not dry_run:
                advance(session, now_hour)
            return RollupResult()
        since = oldest
    first = hour_of(since)
    last = min(hour_of(until) if until is not None else now_hour, now_hour)
    total = RollupResult()
    start = first
    while start < last:
        end = min(chunk_end(start), last)
        done = roll(session, start, end, dry_run=dry_run)
        total.hours += done.hours
        total.rows += done.rows
        total.tickets += done.tickets
        if commit is not None and not dry_run:
            commit()  # one transaction per chunk: a long backfill never holds the write lock for long
        if progress is not None:
            progress(end - first, last - first, total)
        start = end
    if not dry_run:
        # complete_until marks a contiguous prefix: advance it only when this range joins it (or begins it).
        state_until = mark(session)
        if state_until is not None:
            joins = first <= state_until
        else:
            joins = session.scalar(select(Ticket.id).where(Ticket.created_at < start_of(first)).limit(1)) is None
        if joins:
            advance(session, last)
    return total


def refresh(session: Session, now: datetime | None = None) -> RollupResult:
    """The periodic job: re-derive the recent hours and mark everything before the current hour complete."""
    now_hour = hour_of(now or utcnow())
    state_until = complete_until(session)
    if state_until is None:  # first run: roll up the whole history once
        return backfill(session, None)
    first = min(state_until, now_hour) - RECHECK_HOURS
    done = rollup_hours(session, first, now_hour)
    _advance(session, now_hour)
    return done


# --------------------------------------------------------------------------- readers


def _direct(
    session: Session, brand_ids: Iterable[int], ranges: list[tuple[datetime, datetime]]
) -> dict[tuple[int, str], int]:
    """Direct counts per (hour, channel) for the unrolled ranges."""
    if not ranges:
        return {}
    conds: list[ColumnElement[bool]] = [and_(Ticket.created_at >= a, Ticket.created_at < b) for a, b in ranges]
    hour = epoch_hour(Ticket.created_at)
    rows = session.execute(
        select(hour, Ticket.channel, func.count(Ticket.id))
        .where(Ticket.brand_id.in_(tuple(brand_ids)), or_(*conds))
        .group_by(hour, Ticket.channel)
    ).all()
    return {(int(h), str(ch)): int(n) for h, ch, n in rows}


def whole_hours(start: datetime, end: datetime, until: int | None) -> tuple[int, int] | None:
    """[first, last) epoch hours of [start, end) that are whole and rolled up (before `until`), or None if none."""
    if until is None:
        return None
    first = hour_of(start) + (0 if start == start_of(hour_of(start)) else 1)
    last = min(hour_of(end), until)
    return (first, last) if last > first else None


def created_by_hour(
    session: Session, brand_ids: Iterable[int], start: datetime, end: datetime
) -> dict[tuple[int, str], int] | None:
    """Tickets created in [start, end) per (epoch hour, channel), or None when no whole hour is rolled up."""
    brands = tuple(brand_ids)
    until = complete_until(session)
    span = whole_hours(start, end, until) if brands else None
    if span is None:
        return None
    first_full, last_full = span
    out = dict(
        ((int(h), str(ch)), int(n))
        for h, ch, n in session.execute(
            select(TicketHourRollup.hour, TicketHourRollup.channel, func.sum(TicketHourRollup.created))
            .where(
                TicketHourRollup.brand_id.in_(brands),
                TicketHourRollup.hour >= first_full,
                TicketHourRollup.hour < last_full,
            )
            .group_by(TicketHourRollup.hour, TicketHourRollup.channel)
        )
    )
    edges = [(start, start_of(first_full)), (start_of(last_full), end)]
    for key, n in _direct(session, brands, [(a, b) for a, b in edges if a < b]).items():
        out[key] = out.get(key, 0) + n
    return out


def created_by_day(
    session: Session, brand_ids: Iterable[int], start: datetime, end: datetime, offset_hours: int
) -> dict[int, int] | None:
    """Tickets created in [start, end) per local day (days since the epoch at a whole-hour UTC offset), or None
    when no whole hour is rolled up."""
    brands = tuple(brand_ids)
    until = complete_until(session)
    span = whole_hours(start, end, until) if brands else None
    if span is None:
        return None
    first_full, last_full = span
    # Summed per day in the database: a year is ~50k (hour, channel) rows but 365 days.
    day = (TicketHourRollup.hour + offset_hours) // 24
    out = {
        int(d): int(n)
        for d, n in session.execute(
            select(day, func.sum(TicketHourRollup.created))
            .where(
                TicketHourRollup.brand_id.in_(brands),
                TicketHourRollup.hour >= first_full,
                TicketHourRollup.hour < last_full,
            )
            .group_by(day)
        )
    }
    edges = [(start, start_of(first_full)), (start_of(last_full), end)]
    for (hour, _), n in _direct(session, brands, [(a, b) for a, b in edges if a < b]).items():
        d = (hour + offset_hours) // 24
        out[d] = out.get(d, 0) + n
    return out
