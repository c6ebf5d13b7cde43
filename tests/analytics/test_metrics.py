"""Every metric on an exact fixture, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.analytics.world import T0, D, World, build


@pytest.fixture
def world(db: Any, make: Any) -> World:
    return build(db, make)


def _filters(db: Any, w: World, **kw: Any) -> Any:
    from kefu.analytics.service import resolve_filters

    kw.setdefault("brand_id", w.brand.id)
    return resolve_filters(db, None, start=T0, end=T0 + 7 * D, now=T0 + 7 * D, **kw)


def test_volume_frt_resolution(db: Any, world: World) -> None:
    from kefu.analytics import service

    f = _filters(db, world)
    assert service.volume_by_channel(db, f) == {"total": 5, "by_channel": {"email": 2, "web_chat": 2, "phone": 1}}
    assert service.first_response(db, f) == {"count": 3, "avg": 1200.0, "p50": 1200.0, "p90": 1800.0}
    res = service.resolution(db, f)
    assert res == {
        "count": 4,
        "avg": 246150.0,
        "p50": 7200.0,
        "p90": 882000.0,
        "buckets": {"lt_1h": 1, "1h_4h": 1, "4h_24h": 0, "1d_3d": 1, "3d_7d": 0, "gt_7d": 1},
    }
    days = service.daily_volume(db, f)
    assert len(days) == 8 and sum(n for _, n in days) == 5  # 7 UTC days touch 8 Taipei days
    assert days[0][1] == 5  # all five created on 2 March, Taipei time


def test_fcr_backlog_top_issues_agents(db: Any, world: World) -> None:
    from kefu.analytics import service

    f = _filters(db, world)
    assert service.fcr(db, f) == {"resolved": 4, "fcr": 2, "rate": 0.5}
    assert service.backlog(db, f) == {
        "total": 3,
        "by_status": {"new": 1, "open": 2, "pending": 0, "on_hold": 0},
    }
    assert service.top_issues(db, f) == [
        {"category": "refund", "label_zh": "退款", "label_en": "Refund", "count": 3},
        {"category": "logistics", "label_zh": "物流", "label_en": "Logistics", "count": 2},
    ]
    perf = {r["agent_id"]: r for r in service.agent_performance(db, f)}
    assert perf[world.agent_x.id] == {
        "agent_id": world.agent_x.id,
        "name": world.agent_x.name,
        "handled": 2,
        "avg_frt": 900.0,
        "avg_resolution": 4500.0,
        "csat": 4.0,
        "csat_count": 2,
    }
    assert perf[world.agent_y.id]["avg_frt"] == 2700.0
    assert perf[world.agent_y.id]["avg_resolution"] == 487800.0
    assert perf[world.agent_y.id]["csat"] == 4.0 and perf[world.agent_y.id]["csat_count"] == 1


def test_sla_csat_complaints_regulator(db: Any, world: World) -> None:
    from kefu.analytics import service

    f = _filters(db, world)
    assert service.sla_compliance(db, f) == {
        "decided": 4,
        "met": 2,
        "rate": 0.5,
        "by_kind": {
            "first_response": {"decided": 3, "met": 1, "rate": 0.3333},
            "resolution": {"decided": 1, "met": 1, "rate": 1.0},
        },
    }
    assert service.csat(db, f) == {
        "sent": 4,
        "answered": 3,
        "response_rate": 0.75,
        "average": 4.0,
        "satisfied_share": 0.6667,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
    }
    assert service.complaints(db, f) == {
        "received": 2,
        "tickets": 5,
        "rate": 0.4,
        "closed_24h": 1,
        "closure_24h_rate": 0.5,
    }
    assert service.regulator_on_time(db, f) == {"received": 3, "decided": 2, "on_time": 1, "rate": 0.5}


def test_bot_containment_and_qa(db: Any, world: World) -> None:
    from kefu.analytics import service

    f = _filters(db, world)
    assert service.bot_containment(db, f) == {"handled": 5, "contained": 2, "rate": 0.4}
    assert service.qa_correctness(db, f) == {
        "reviewed": 3,
        "accuracy_passed": 2,
        "rate": 0.6667,
        "passed": 1,
        "pass_rate": 0.3333,
        "avg_total": 70.0,
    }


def test_organization_and_brand_filters(db: Any, world: World) -> None:
    from kefu.analytics import service

    f = _filters(db, world, organization_id=world.org.id)
    assert service.volume_by_channel(db, f) == {"total": 1, "by_channel": {"email": 1}}
    assert service.csat(db, f)["distribution"]["3"] == 1 and service.csat(db, f)["sent"] == 1
    assert service.complaints(db, f)["received"] == 1
    everything = service.resolve_filters(db, None, start=T0, end=T0 + 7 * D, now=T0 + 7 * D)
    assert service.volume_by_channel(db, everything)["total"] == 6  # both brands
    other = _filters(db, world, brand_id=world.other.id)
    assert service.volume_by_channel(db, other) == {"total": 1, "by_channel": {"email": 1}}


def test_filters_respect_brand_access(db: Any, world: World, make: Any) -> None:
    from kefu.analytics.service import resolve_filters
    from kefu.auth.service import principal_for
    from kefu.core.errors import InvalidInput, NotFound

    sup = make.agent("supervisor", [world.other])
    principal = principal_for(db, sup, "token", 0, None)
    with pytest.raises(NotFound):
        resolve_filters(db, principal, brand_id=world.brand.id)
    with pytest.raises(NotFound):
        resolve_filters(db, principal, organization_id=world.org.id)
    assert resolve_filters(db, principal).brand_ids == (world.other.id,)
    with pytest.raises(InvalidInput):
        resolve_filters(db, None, start=T0, end=T0)


def test_dashboard_has_every_registered_metric(db: Any, world: World) -> None:
    from kefu.analytics.metrics import METRICS
    from kefu.analytics.service import dashboard

    data = dashboard(db, _filters(db, world))
    for key in METRICS:
        assert key in data or key in ("complaint_rate", "complaint_closure_24h")
    assert data["complaints"]["rate"] == 0.4


def test_a_clock_stepped_back_between_create_and_reply_is_no_negative_duration(db: Any, make: Any) -> None:
    """NTP stepped the clock back 2 minutes between a ticket's create and its first reply (and its resolution): the
    stored reply is "before" the ticket. Before, first-response time was -120 s and pulled averages below reality."""
    from sqlalchemy import select

    from kefu.analytics import service
    from kefu.analytics.sql import seconds_between
    from kefu.tickets.models import Ticket
    from tests.analytics.world import T0, M, _ticket

    brand = make.brand()
    _ticket(db, brand, created_at=T0 + M, first_response_at=T0 - M, resolved_at=T0)
    _ticket(db, brand, created_at=T0, first_response_at=T0 + 10 * M, resolved_at=T0 + 20 * M)
    _ticket(db, brand, created_at=T0)  # not answered yet: no duration, not 0
    durations = select(seconds_between(Ticket.created_at, Ticket.first_response_at)).where(Ticket.brand_id == brand.id)
    got = sorted(db.scalars(durations), key=str)  # this brand's only: other tests' tickets share the database
    assert got == [0.0, 600.0, None]
    f = service.resolve_filters(db, None, start=T0 - D, end=T0 + D, now=T0 + D, brand_id=brand.id)
    assert service.first_response(db, f) == {"count": 2, "avg": 300.0, "p50": 0.0, "p90": 600.0}
    assert service.resolution(db, f)["avg"] == 600.0
