"""Hourly ticket rollups: equal to the direct query for any period, idempotent, and refreshed by the job."""

from __future__ import annotations

import itertools
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
    from tests.conftest import migrated_sqlite

    url = migrated_sqlite(tmp_path / "r.db")
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


# --------------------------------------------------------------------------- statistic rollups (kefu.analytics.stats)


def _all_direct(db: Any, f: Any) -> dict[str, Any]:
    from kefu.analytics import service

    return {
        "first_response": service.first_response(db, f),
        "resolution": service.resolution(db, f),
        "fcr": service.fcr(db, f),
        "sla": service.sla_compliance(db, f),
        "csat": service.csat(db, f),
        "top_issues": service.top_issues(db, f),
        "agents": service.agent_performance(db, f),
        "bot": service.bot_containment(db, f),
    }


def _close(got: Any, want: Any, path: str = "") -> None:
    """Equal, except percentiles within the histogram bound and means within their rounding."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (path, got, want)
        for k in want:
            _close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{path}[{i}]")
    elif path.endswith((".p50", ".p90")) and want is not None:
        assert got is not None and abs(got - want) <= max(1.05, 0.0101 * abs(want)), (path, got, want)
    elif isinstance(want, float) and path.rsplit(".", 1)[-1] in ("avg", "avg_frt", "avg_resolution"):
        assert got is not None and abs(got - want) <= 0.11, (path, got, want)
    else:
        assert got == want, (path, got, want)


def _spread(db: Any, w: World, n: int = 60, make: Any = None) -> None:
    """Tickets with durations from seconds to days, resolved and answered at varied times (deterministic)."""
    import random

    from kefu.sla.models import TicketSlaTarget
    from kefu.surveys.models import CsatSurvey

    rnd = random.Random(21)
    for i in range(n):
        created = T0 + timedelta(seconds=rnd.randrange(0, 6 * 86400))
        t = _add(db, w.brand, created, rnd.choice(["email", "line", "phone"]))
        t.category = rnd.choice([None, "refund", "logistics", "invoice", "other"])
        t.assignee_id = rnd.choice([None, w.agent_x.id, w.agent_y.id])
        if i % 4:
            t.first_response_at = created + timedelta(seconds=rnd.choice([5, 42.5, 99.9, 100, 250, 3600.25, 9000]))
        if i % 3:
            t.resolved_at = created + timedelta(seconds=rnd.randrange(30, 9 * 86400))
            t.status = "resolved"
            db.add(
                CsatSurvey(
                    brand_id=w.brand.id, ticket_id=t.id, agent_id=t.assignee_id, channel="email",
                    resolved_at=t.resolved_at, sent_at=t.resolved_at + timedelta(minutes=rnd.randrange(1, 120)),
                    expires_at=t.resolved_at + 30 * D, rating=rnd.choice([None, 1, 3, 4, 5]),
                    # answered 0–49 h after resolution (agent CSAT is keyed by answer time), some never
                    answered_at=t.resolved_at + timedelta(minutes=(i * 677) % 3000) if i % 7 else None,
                )
            )  # fmt: skip
        if make is not None and i % 2:
            _bot_conversation(db, w, make, i, created)
        due = created + timedelta(hours=rnd.choice([1, 4, 24]))
        met = due + timedelta(minutes=rnd.choice([-30, 0, 30])) if i % 5 else None
        db.add(
            TicketSlaTarget(
                ticket_id=t.id, brand_id=w.brand.id, key="resolution", kind="resolution", started_at=created,
                due_at=due, met_at=met, status="met" if met else "active",
            )
        )  # fmt: skip
    db.flush()


def _bot_conversation(db: Any, w: World, make: Any, i: int, created: datetime) -> Any:
    """A conversation the bot answered (or not): contained, handed off, made a ticket, open or re-contacted."""
    from kefu.bot.models import BotState
    from tests.analytics.world import _conv, _msg

    customer = make.customer(w.brand)
    last = created + timedelta(minutes=3 + i % 40)
    status = ("closed", "bot", "open")[i % 3]
    c = _conv(db, w.brand, customer, created, last, status=status)
    _msg(db, c, "customer", created)
    if i % 5 != 1:
        _msg(db, c, "bot", created + M, note=i % 11 == 3)
    if i % 7 == 2:
        db.add(BotState(conversation_id=c.id, handed_off_at=created + 2 * M))
    elif i % 7 == 4:
        db.add(BotState(conversation_id=c.id))
    if i % 9 == 5:
        c.ticket_id = _add(db, w.brand, created + M).id
    if i % 4 == 3:  # the customer comes back: within the 72 h window or just after it
        _conv(db, w.brand, customer, last + (70 * H if i % 8 == 3 else 73 * H), last + 80 * H, status="closed")
    db.flush()
    return c


STAT_PERIODS = [
    *PERIODS,
    (T0 - 8 * H, T0 + 4 * D - 8 * H),  # Taipei local days (UTC+8)
    (T0 + 5 * H + 30 * M, T0 + 9 * D + 30 * M),  # Delhi-style half-hour edges
    (T0 - 40 * D, T0 + 50 * D),  # spans 32-day, day and hour blocks
]


def test_stat_rollups_equal_the_direct_query(db: Any, world: World, make: Any, count_queries: Any) -> None:
    from kefu.analytics import service, stats

    _spread(db, world, make=make)
    now = T0 + 12 * D
    filters = [_filters(db, world, a, b) for a, b in STAT_PERIODS]
    filters = [service.resolve_filters(db, None, start=f.start, end=f.end, brand_id=world.brand.id, now=now)
               for f in filters]  # fmt: skip
    both = service.resolve_filters(db, None, start=T0, end=T0 + 7 * D, now=now)
    want = [_all_direct(db, f) for f in [*filters, both]]
    assert want[0]["resolution"]["count"] > 20 and want[0]["first_response"]["p90"] is not None
    assert 0 < want[0]["bot"]["contained"] < want[0]["bot"]["handled"]
    assert sum(a["csat_count"] for a in want[0]["agents"]) > 5

    until = T0 + 5 * D  # rolled up to here; later hours are read directly
    result = stats.backfill(db, None, until)
    assert result.rows > 0 and stats.complete_until(db) == hour_of_(until)
    for f, w in zip([*filters, both], want, strict=True):
        _close(_all_direct(db, f), w, f"{f.start}–{f.end}")

    again = stats.backfill(db, None, until)  # idempotent
    assert (again.rows, again.tickets) == (result.rows, result.tickets)
    _close(_all_direct(db, filters[1]), want[1])

    rolled = service.resolve_filters(db, None, start=T0, end=T0 + 4 * D, brand_id=world.brand.id, now=now)
    for metric in (service.resolution, service.bot_containment, service.agent_performance):
        with count_queries() as q:
            metric(db, rolled)
        assert any("analytics_ticket_stats" in s for s in q.statements), str(q)
        assert not any("FROM conversations" in s or "FROM csat_surveys" in s for s in q.statements), str(q)


def hour_of_(at: datetime) -> int:
    from kefu.analytics.rollups import hour_of

    return hour_of(at)


def test_stat_refresh_sees_changes_to_old_hours(db: Any, world: World) -> None:
    from kefu.analytics import service, stats
    from kefu.analytics.models import RollupState

    _spread(db, world, 20)
    now = T0 + 40 * D
    stats.refresh(db, now)  # first run: everything
    state = db.get(RollupState, stats.NAME)
    state.updated_at = now - 30 * M  # as if the previous run was half an hour ago
    db.flush()
    f = service.resolve_filters(db, None, start=T0, end=T0 + 7 * D, brand_id=world.brand.id, now=now)
    before = service.first_response(db, f)["count"]
    t = _add(db, world.brand, T0 + 3 * H)  # 37 days old: outside the recheck window
    t.first_response_at, t.updated_at = T0 + 4 * H, now - 10 * M
    db.flush()
    stats.refresh(db, now)
    assert service.first_response(db, f)["count"] == before + 1


def test_percentile_bins_and_cover() -> None:
    import random

    from kefu.analytics import stats

    rnd = random.Random(7)
    values = [rnd.choice([rnd.uniform(0, 100), rnd.expovariate(1 / 20000)]) for _ in range(2000)]
    st: stats.Stats = {}
    for v in values:
        st.setdefault(("res", str(stats.bin_of(v))), stats.Acc()).add(v)
    ordered = sorted(values)
    for p in (1, 10, 50, 90, 99, 100):
        exact = ordered[-(-p * len(values) // 100) - 1]
        got = stats.percentile(st, "res", p)
        assert got is not None and abs(got - exact) <= max(1.0, 0.01 * exact), (p, got, exact)
    assert stats.percentile(st, "res", 100) == max(values)  # a bin's last value is exact
    blocks = stats.cover(5, 24 * 32 * 3 + 30)
    assert [s for s, _, _ in blocks].count(768) == 1 and blocks[0] == (1, 5, 24)
    covered = sorted((a, b) for _, a, b in blocks)
    assert covered[0][0] == 5 and covered[-1][1] == 24 * 32 * 3 + 30
    assert all(x[1] == y[0] for x, y in itertools.pairwise(covered))
    assert all(a % s == 0 and b % s == 0 for s, a, b in blocks if s > 1)


def test_stat_refresh_sees_bot_changes_to_old_hours(db: Any, world: World, make: Any) -> None:
    from kefu.analytics import service, stats
    from kefu.analytics.models import RollupState
    from kefu.bot.models import BotState
    from tests.analytics.world import _conv as conv_
    from tests.analytics.world import _msg

    def _conv(*a: Any, updated_at: datetime) -> Any:
        c = conv_(db, *a)
        c.updated_at = updated_at
        db.flush()
        return c

    now = T0 + 40 * D
    f = service.resolve_filters(db, None, start=T0, end=T0 + 7 * D, brand_id=world.brand.id, now=now)

    def rolled_equals_direct() -> dict[str, Any]:
        state = db.get(RollupState, stats.NAME)
        if state is not None:
            state.updated_at = now - 30 * M  # as if the previous run was half an hour ago
            db.flush()
        stats.refresh(db, now)
        got = {"bot": service.bot_containment(db, f), "agents": service.agent_performance(db, f)}
        state = db.get(RollupState, stats.NAME)
        until, state.complete_until = state.complete_until, 0  # nothing rolled up: the direct answer
        db.info.pop(("analytics.complete_until", stats.NAME), None)
        want = {"bot": service.bot_containment(db, f), "agents": service.agent_performance(db, f)}
        state.complete_until = until
        db.info.pop(("analytics.complete_until", stats.NAME), None)
        assert got == want
        return got

    first = rolled_equals_direct()
    # 37+ days old, outside the recheck window: a new contained conversation (updated just now) ...
    customer = make.customer(world.brand)
    old = _conv(world.brand, customer, T0 + 3 * H, T0 + 3 * H + 5 * M, updated_at=now - 10 * M)
    _msg(db, old, "bot", T0 + 3 * H + M)
    second = rolled_equals_direct()
    assert second["bot"]["contained"] == first["bot"]["contained"] + 1
    # ... then handed off (only its bot state changes) ...
    old.updated_at = now - 2 * H
    db.add(BotState(conversation_id=old.id, handed_off_at=T0 + 3 * H + 2 * M, updated_at=now - 5 * M))
    db.flush()
    assert rolled_equals_direct()["bot"]["contained"] == first["bot"]["contained"]
    # ... and another one re-contacted by a conversation created just now (the old one is not updated).
    other = _conv(world.brand, customer, T0 + 4 * H, now - 2 * H, updated_at=now - 2 * H)
    _msg(db, other, "bot", T0 + 4 * H + M)
    db.get(RollupState, stats.NAME).updated_at = now - 3 * H
    db.flush()
    stats.refresh(db, now)
    counted = rolled_equals_direct()["bot"]
    assert counted["contained"] == first["bot"]["contained"] + 1
    _conv(world.brand, customer, now - 10 * M, now - 9 * M, updated_at=now - 9 * M)
    assert rolled_equals_direct()["bot"]["contained"] == counted["contained"] - 1
