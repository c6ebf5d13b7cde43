"""Hourly ticket rollups: equal to the direct query for any period, idempotent, and refreshed by the job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.analytics.world import T0, D, H, M, World, build


@pytest.fixture
def world(db: Any, make: Any) -> World:
    return build(db, make)


def _direct(db: Any, f: Any) -> tuple[dict[str, Any], list[Any]]:
    """The metrics computed straight from the tickets (no rollups)."""
    from kefu.analytics import service

    return service.volume_by_channel(db, f), service.daily_volume(db, f)


def _filters(db: Any, w: World, start: datetime, end: datetime, **kw: Any) -> Any:
    from kefu.analytics.service import resolve_filters

    kw.setdefault("brand_id", w.brand.id)
    return resolve_filters(db, None, start=start, end=end, now=end, **kw)


def _add(db: Any, brand: Any, at: datetime, channel: str = "email") -> Any:
    from kefu.tickets.models import Ticket

    t = Ticket(
        brand_id=brand.id,
        number=f"R-{uuid.uuid4().hex[:10]}",
        subject="s",
        channel=channel,
        created_at=at,
        updated_at=at,
    )
    db.add(t)
    db.flush()
    return t


PERIODS = [
    (T0, T0 + 7 * D),  # whole hours
    (T0 + 17 * M, T0 + 3 * D + 5 * H + 41 * M),  # partial hours at both edges
    (T0 - 30 * D, T0 + 60 * D),  # beyond the rolled-up range (direct counts after complete_until)
    (T0 + 10 * M, T0 + 50 * M),  # inside one hour: no whole hour to read from the rollups
]


def test_rollups_equal_the_direct_query_for_any_period(db: Any, world: World, count_queries: Any) -> None:
    from kefu.analytics import rollups, service

    _add(db, world.brand, T0 + 59 * M, "phone")  # last minute of an hour
    _add(db, world.brand, T0 + 2 * D + 16 * H, "line")  # a Taipei midnight (UTC+8)
    expected = [_direct(db, _filters(db, world, a, b)) for a, b in PERIODS]
    both = _filters(db, world, T0, T0 + 7 * D, brand_id=None)
    expected_both = _direct(db, both)

    until = T0 + 5 * D  # rolled up to here; later hours are counted directly
    result = rollups.backfill(db, None, until)
    assert result.tickets > 0
    assert rollups.complete_until(db) == rollups.hour_of(until)
    for (a, b), want in zip(PERIODS, expected, strict=True):
        assert _direct(db, _filters(db, world, a, b)) == want, (a, b)
    assert _direct(db, both) == expected_both

    # Re-running is idempotent.
    again = rollups.backfill(db, None, until)
    assert (again.rows, again.tickets) == (result.rows, result.tickets)
    assert _direct(db, _filters(db, world, *PERIODS[1])) == expected[1]

    # The dashboard reads the rollups: tickets rows outside the period edges are not scanned.
    f = _filters(db, world, T0, T0 + 5 * D)
    with count_queries() as q:
        service.volume_by_channel(db, f)
    assert any("analytics_ticket_hours" in s for s in q.statements), str(q)


def test_organization_filter_and_fractional_offsets_use_the_direct_query(db: Any, world: World) -> None:
    from kefu.analytics import rollups, service

    f = _filters(db, world, T0, T0 + 7 * D, organization_id=world.org.id)
    g = _filters(db, world, T0, T0 + 7 * D)
    want, want_days = service.volume_by_channel(db, f), service.daily_volume(db, g, tz_offset_hours=5.5)
    rollups.backfill(db, None, T0 + 7 * D)
    assert service.volume_by_channel(db, f) == want
    assert service.daily_volume(db, g, tz_offset_hours=5.5) == want_days


def test_refresh_picks_up_new_tickets_and_dry_run_writes_nothing(db: Any, world: World, make: Any) -> None:
    from kefu.analytics import rollups, service
    from kefu.analytics.models import TicketHourRollup

    now = T0 + 7 * D
    dry = rollups.backfill(db, T0 - D, now, dry_run=True)
    assert dry.tickets >= 5 and db.query(TicketHourRollup).count() == 0 and rollups.complete_until(db) is None
    rollups.refresh(db, now)  # first run: the whole history
    f = _filters(db, world, T0, now)
    before = service.volume_by_channel(db, f)["total"]
    _add(db, world.brand, now - 3 * H, "email")  # committed late, inside the recheck window
    rollups.refresh(db, now)
    assert service.volume_by_channel(db, f)["total"] == before + 1
    assert db.query(TicketHourRollup).filter(TicketHourRollup.hour == rollups.hour_of(now - 3 * H)).count() >= 1


def test_backfill_cli_dry_run_and_progress(tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from kefu.cli import app
    from kefu.core import runtime
    from kefu.core.db import DATABASE, Database
    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    database = Database(url)
    try:
        with runtime.override(DATABASE, database):
            with database.session() as s:
                from kefu.brands.service import create_brand

                brand = create_brand(s, slug="r", name="r")
                for i in range(3):
                    _add(s, brand, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i))
            runner = CliRunner()
            r = runner.invoke(app, ["analytics", "rollup", "--dry-run"])
            assert r.exit_code == 0, r.output
            assert "would roll up 3 tickets" in r.output
            r = runner.invoke(app, ["analytics", "rollup", "--since", "2025-12-31"])
            assert r.exit_code == 0, r.output
            assert "rolled up 3 tickets into 3 rows" in r.output
            r = runner.invoke(app, ["analytics", "rollup", "--since", "not a date"])
            assert r.exit_code != 0
    finally:
        database.dispose()
