"""Complaint, regulator and QA rollups: equal to the direct query on randomized rows, idempotent, kept fresh."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.analytics.test_rollups import STAT_PERIODS, _add, hour_of_
from tests.analytics.world import T0, D, H, M, World, _conv, build


@pytest.fixture
def world(db: Any, make: Any) -> World:
    return build(db, make)


NOW = T0 + 12 * D


def _metrics(db: Any, f: Any) -> dict[str, Any]:
    from kefu.analytics import service

    return {
        "complaints": service.complaints(db, f, tickets_created=1),
        "regulator": service.regulator_on_time(db, f),
        "qa": service.qa_correctness(db, f),
    }


def _equal(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    """Equal; the QA average up to float summation order under its 0.1 rounding."""
    g = {**got, "qa": {k: v for k, v in got["qa"].items() if k != "avg_total"}}
    w = {**want, "qa": {k: v for k, v in want["qa"].items() if k != "avg_total"}}
    ga, wa = got["qa"]["avg_total"], want["qa"]["avg_total"]
    assert g == w, where
    assert (ga is None) == (wa is None) and (ga is None or abs(ga - wa) <= 0.11), (where, ga, wa)


def _cases(db: Any, w: World, make: Any, n: int = 80, seed: int = 46) -> None:
    """Complaints, regulator cases and QA reviews at random times around the 24 h / due date / pass boundaries."""
    from kefu.complaints.models import Complaint, RegulatorCase
    from kefu.qa.models import QaReview

    rnd = random.Random(seed)
    customer = make.customer(w.brand)
    for i in range(n):
        at = T0 + timedelta(seconds=rnd.randrange(-2 * 86400, 9 * 86400))
        t = _add(db, w.brand, at)
        closed = rnd.choice(
            [None, at + 24 * H, at + 24 * H + timedelta(seconds=1), at + timedelta(hours=rnd.random() * 60)]
        )
        db.add(
            Complaint(
                brand_id=w.brand.id, ticket_id=t.id, complainant_name="王", channel="email", description="d",
                received_at=at, acknowledge_due_at=at + D, reply_due_at=at + 3 * D, closed_at=closed,
                status="closed" if closed else "received",
            )
        )  # fmt: skip
        if i % 2:
            due = at + timedelta(hours=rnd.choice([1, 24, 72, 15 * 24]))
            answered = rnd.choice([None, None, due - M, due, due + M])
            replied, closed_case = (answered, None) if i % 3 else (None, answered)
            db.add(
                RegulatorCase(
                    brand_id=w.brand.id, ticket_id=t.id, agency="消保官", subject="來函", received_at=at, due_at=due,
                    replied_at=replied, closed_at=closed_case,
                )
            )  # fmt: skip
        cv = _conv(db, w.brand, customer, at, at)
        done = i % 5 != 0
        db.add(
            QaReview(
                brand_id=w.brand.id, conversation_id=cv.id, status="done" if done else "pending", scores={},
                total=rnd.choice([None, 33.3, 61.25, 99.9]) if done else None,
                passed=rnd.choice([None, True, False]) if done else None,
                accuracy_passed=rnd.choice([None, True, False]) if done else None,
                reviewed_at=at + timedelta(minutes=rnd.randrange(0, 3000)) if done else None,
            )
        )  # fmt: skip
    db.flush()


def test_case_rollups_equal_the_direct_query(db: Any, world: World, make: Any, count_queries: Any) -> None:
    from kefu.analytics import service, stats

    _cases(db, world, make)
    filters = [
        service.resolve_filters(db, None, start=a, end=b, brand_id=world.brand.id, now=NOW) for a, b in STAT_PERIODS
    ]
    filters.append(service.resolve_filters(db, None, start=T0, end=T0 + 7 * D, now=NOW))  # both brands
    # "now" inside the period: unanswered cases become decided as their due date passes
    filters.append(
        service.resolve_filters(db, None, start=T0 - D, end=T0 + 9 * D, brand_id=world.brand.id, now=T0 + 2 * D)
    )
    want = [_metrics(db, f) for f in filters]
    assert want[0]["complaints"]["closed_24h"] > 3 and want[0]["regulator"]["decided"] > 3
    assert (
        0 < want[0]["regulator"]["on_time"] < want[0]["regulator"]["decided"] < want[-1]["regulator"]["received"] + 99
    )
    assert want[0]["qa"]["reviewed"] > 10

    until = T0 + 5 * D  # rolled up to here; later hours are read directly
    result = stats.backfill(db, None, until)
    assert result.rows > 0 and stats.complete_until(db) == hour_of_(until)
    for f, w in zip(filters, want, strict=True):
        _equal(_metrics(db, f), w, f"{f.start}–{f.end}")
    again = stats.backfill(db, None, until)  # idempotent
    assert (again.rows, again.tickets) == (result.rows, result.tickets)
    for f, w in zip(filters, want, strict=True):
        _equal(_metrics(db, f), w, f"again {f.start}–{f.end}")

    rolled = service.resolve_filters(db, None, start=T0, end=T0 + 4 * D, brand_id=world.brand.id, now=NOW)
    with count_queries() as q:
        _metrics(db, rolled)
    assert any("analytics_ticket_stats" in s for s in q.statements), str(q)
    assert not any("FROM complaints" in s or "FROM qa_reviews" in s for s in q.statements), str(q)
    # the regulator read touches only the unanswered cases (partial index), not the period's rows
    assert all("replied_at IS NULL" in s for s in q.statements if "FROM regulator_cases" in s), str(q)

    # An organization filter has no rollup: the direct query.
    org = service.resolve_filters(
        db, None, start=T0, end=T0 + 7 * D, brand_id=world.brand.id, organization_id=world.org.id, now=NOW
    )
    with count_queries() as q:
        service.qa_correctness(db, org)
    assert not any("analytics_ticket_stats" in s for s in q.statements), str(q)


def _rolled_equals_direct(db: Any, f: Any, now: datetime, since: datetime) -> dict[str, Any]:
    """Run the job (previous run at `since`), then compare the rolled-up answer with the direct one."""
    from kefu.analytics import stats
    from kefu.analytics.models import RollupState

    state = db.get(RollupState, stats.NAME)
    state.updated_at = since
    db.flush()
    stats.refresh(db, now)
    got = _metrics(db, f)
    state = db.get(RollupState, stats.NAME)
    until, state.complete_until = state.complete_until, 0  # nothing rolled up: the direct answer
    db.info.pop(("analytics.complete_until", stats.NAME), None)
    want = _metrics(db, f)
    state.complete_until = until
    db.info.pop(("analytics.complete_until", stats.NAME), None)
    db.flush()
    _equal(got, want, "refresh")
    return got


def test_case_refresh_sees_changes_to_old_hours(db: Any, world: World, make: Any) -> None:
    from kefu.analytics import service, stats
    from kefu.complaints.models import Complaint, RegulatorCase
    from kefu.qa.models import QaReview

    _cases(db, world, make, n=30, seed=7)
    now = T0 + 40 * D  # every case is outside the 8-day recheck window
    stats.refresh(db, now)  # first run: everything
    f = service.resolve_filters(db, None, start=T0 - 3 * D, end=T0 + 10 * D, brand_id=world.brand.id, now=now)
    first = _rolled_equals_direct(db, f, now, now - 30 * M)

    # A complaint closed within 24 h, a regulator case replied on time: both update their row (updated_at).
    open_complaint = db.scalars(
        select_(Complaint)
        .where(Complaint.brand_id == world.brand.id, Complaint.closed_at.is_(None), Complaint.received_at >= T0 - 3 * D)
        .limit(1)
    ).one()
    open_complaint.closed_at = open_complaint.received_at + H
    open_complaint.updated_at = now - 10 * M
    case = db.scalars(
        select_(RegulatorCase)
        .where(
            RegulatorCase.brand_id == world.brand.id,
            RegulatorCase.replied_at.is_(None),
            RegulatorCase.closed_at.is_(None),
            RegulatorCase.received_at >= T0 - 3 * D,
        )
        .limit(1)
    ).one()
    case.replied_at, case.updated_at = case.received_at + M, now - 10 * M
    db.flush()
    second = _rolled_equals_direct(db, f, now, now - 30 * M)
    assert second["complaints"]["closed_24h"] == first["complaints"]["closed_24h"] + 1
    assert second["regulator"]["on_time"] == first["regulator"]["on_time"] + 1

    # A QA review re-scored now: it leaves its old hour (reviews have no updated_at; the job compares counts).
    review = db.scalars(
        select_(QaReview).where(QaReview.brand_id == world.brand.id, QaReview.status == "done").limit(1)
    ).one()
    review.reviewed_at = now - 5 * M
    db.flush()
    third = _rolled_equals_direct(db, f, now, now - 30 * M)
    assert third["qa"]["reviewed"] == second["qa"]["reviewed"] - 1
    # Nothing changed: the next run re-derives no old hour.
    stats.refresh(db, now)
    assert stats._moved_reviews(db, (world.brand.id, world.other.id), hour_of_(now) - stats.RECHECK_HOURS) == set()


def select_(model: Any) -> Any:
    from sqlalchemy import select

    return select(model)


def test_dashboard_from_rollups_equals_the_direct_dashboard(db: Any, world: World, make: Any) -> None:
    from kefu.analytics import service, stats
    from kefu.analytics.models import RollupState
    from tests.analytics.test_rollups import _close, _spread

    _spread(db, world, 40, make=make)
    _cases(db, world, make, n=30, seed=3)
    until = T0 + 5 * D
    filters = [
        # now inside the mark's hour (one read for every metric, as after the job) and past it (SLA read apart)
        service.resolve_filters(db, None, start=a, end=b, brand_id=world.brand.id, now=now)
        for a, b in ((T0 + 17 * M, T0 + 4 * D + 41 * M), (T0 - 8 * H, T0 + 9 * D))
        for now in (until + 10 * M, until + 3 * D)
    ]
    want = [service.dashboard(db, f) for f in filters]
    stats.backfill(db, None, until)
    assert db.get(RollupState, stats.NAME).complete_until == hour_of_(until)
    for f, w in zip(filters, want, strict=True):
        _close(service.dashboard(db, f), w, f"{f.start}–{f.end} at {f.now}")
