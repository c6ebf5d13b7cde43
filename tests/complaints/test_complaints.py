"""Complaints (levels, acknowledgement/reply deadlines, task force) and regulator cases (15-day statistics)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.tickets.helpers import Clock, admin_principal, tw


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


@pytest.fixture
def setup(db: Any, make: Any) -> dict[str, Any]:
    from kefu.sla.service import install_defaults

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    install_defaults(db, brand.id, p)
    db.commit()
    return {"brand": brand, "p": p}


def test_complaint_levels_deadlines_and_lifecycle(db: Any, setup: dict[str, Any], clock: Clock) -> None:
    from kefu.complaints import service
    from kefu.sla.service import ticket_sla
    from kefu.tickets.models import Ticket

    brand, p = setup["brand"], setup["p"]
    clock.set(tw(2026, 3, 6, 17, 0))  # Friday 17:00
    c = service.create_complaint(
        db,
        brand_id=brand.id,
        actor=p,
        complainant_name="陳先生",
        complainant_contact="0911-222-333",
        channel="phone",
        level="major",
        product="智慧手錶",
        order_number="OR000123",
        description="商品冒煙，要求退費與賠償",
        requested_remedy="全額退費",
        evidence=[{"name": "photo.jpg", "ref": "att://42"}],
    )
    # Acknowledge by Monday 17:00 (1 business day); reply by the 5th business day, Friday 13 March 17:00.
    assert c.acknowledge_due_at == utc(tw(2026, 3, 9, 17, 0))
    assert c.reply_due_at == utc(tw(2026, 3, 13, 17, 0))
    ticket = db.get(Ticket, c.ticket_id)
    assert (ticket.category, ticket.custom_fields, ticket.priority) == (
        "complaint",
        {"complaint_level": "major"},
        "normal",
    )
    state, targets = ticket_sla(db, ticket.id)
    assert state is not None and state.policy_name == "complaint.major"
    due = {t.key: t.due_at for t in targets}
    assert due == {
        "first_response": utc(tw(2026, 3, 9, 10, 0)),  # 1 h on Friday + 1 h on Monday
        "task_force": utc(tw(2026, 3, 7, 17, 0)),  # 24 wall-clock hours
    }
    clock.set(tw(2026, 3, 7, 10, 0))
    service.form_task_force(db, c, p, members=[p.agent_id])
    assert {t.key: t.status for t in ticket_sla(db, ticket.id)[1]}["task_force"] == "met"
    clock.set(tw(2026, 3, 9, 9, 30))
    service.acknowledge(db, c, p, "已收到您的投訴，專案小組處理中")
    assert (c.status, ticket.first_response_at, ticket.status) == ("acknowledged", clock.now, "open")
    service.update_complaint(db, c, p, {"level": "dispute"})
    state, targets = ticket_sla(db, ticket.id)
    assert state is not None and state.policy_name == "complaint.dispute"
    clock.set(tw(2026, 3, 10, 11, 0))
    service.reply(db, c, p, "已全額退費")
    assert ticket.status == "resolved" and c.replied_at == clock.now
    service.close_complaint(db, c, p, "退費完成")
    assert ticket.status == "closed" and c.status == "closed"


def test_complaint_api(client: Any, make: Any, setup: dict[str, Any], clock: Clock) -> None:
    brand = setup["brand"]
    ha = make.token(make.agent("agent", [brand]))
    form = {"brand_id": brand.id, "complainant_name": "林", "channel": "email", "description": "客服態度差"}
    r = client.post("/api/v1/complaints", json=form, headers=ha)
    assert r.status_code == 201 and r.json()["level"] == "normal"
    # Received at Monday's opening: Monday counts as the first business day, due at its close (18:00 Taipei).
    assert r.json()["acknowledge_due_at"].startswith("2026-03-02T10:00:00")
    assert client.post("/api/v1/complaints", json={**form, "level": "huge"}, headers=ha).status_code == 422
    cid = r.json()["id"]
    ack = client.post(f"/api/v1/complaints/{cid}/acknowledge", json={"message": "已收到"}, headers=ha)
    assert ack.json()["status"] == "acknowledged"
    assert (
        client.post(f"/api/v1/complaints/{cid}/acknowledge", json={"message": "again"}, headers=ha).status_code == 409
    )
    listed = client.get("/api/v1/complaints", params={"brand_id": brand.id, "level": "normal"}, headers=ha).json()
    assert [x["id"] for x in listed["items"]] == [cid]


def test_regulator_cases_and_15_day_statistics(
    client: Any, db: Any, make: Any, setup: dict[str, Any], clock: Clock
) -> None:
    from kefu.complaints import service
    from kefu.sla.service import ticket_sla

    brand, p = setup["brand"], setup["p"]
    clock.set(tw(2026, 3, 31, 12, 0))

    def case(received: datetime, replied: datetime | None, meeting: bool = False) -> Any:
        c = service.create_regulator_case(
            db,
            brand_id=brand.id,
            actor=p,
            agency="臺北市消保官",
            subject="消費爭議",
            received_at=received,
            reference_no="北市消字第1號",
            coordination_meeting=meeting,
        )
        if replied is not None:
            service.reply_regulator_case(db, c, p, "完整回覆", at=replied)
        return c

    a = case(tw(2026, 1, 5, 10, 0), tw(2026, 1, 20, 10, 0))  # exactly 15 days: on time
    case(tw(2026, 1, 10, 9, 0), tw(2026, 1, 25, 9, 1))  # one minute late
    case(tw(2026, 1, 31, 23, 30), tw(2026, 2, 10, 9, 0), meeting=True)  # January in Taipei (UTC: Jan 31 15:30)
    case(tw(2026, 3, 1, 9, 0), None)  # unanswered, due 16 March: overdue at 31 March
    case(tw(2026, 3, 20, 9, 0), None)  # unanswered, due 4 April: pending
    assert a.due_at == utc(tw(2026, 1, 20, 10, 0))
    state, targets = ticket_sla(db, a.ticket_id)
    assert state is not None and state.policy_name == "regulator.official_letter"
    assert targets[0].due_at == a.due_at and targets[0].status == "met"

    months, total = service.regulator_stats(db, brand.id, p, year=2026)
    jan, feb, mar = months[0], months[1], months[2]
    assert (jan.received, jan.on_time, jan.late, jan.with_meeting, jan.on_time_rate) == (3, 2, 1, 1, 0.6667)
    assert feb.received == 0 and feb.on_time_rate is None
    assert (mar.received, mar.overdue_open, mar.pending, mar.on_time_rate) == (2, 1, 1, 0.0)
    assert (total.received, total.on_time, total.decided, total.on_time_rate) == (5, 2, 4, 0.5)

    db.commit()
    reports = make.token(make.agent("supervisor", [brand]))
    r = client.get("/api/v1/regulator-cases/stats", params={"brand_id": brand.id, "year": 2026}, headers=reports)
    assert r.status_code == 200 and r.json()["total"]["on_time_rate"] == 0.5 and r.json()["deadline_days"] == 15
    agent = make.token(make.agent("agent", [brand]))
    assert (
        client.get(
            "/api/v1/regulator-cases/stats", params={"brand_id": brand.id, "year": 2026}, headers=agent
        ).status_code
        == 403
    )
    overdue = client.get(
        "/api/v1/regulator-cases", params={"brand_id": brand.id, "overdue": True}, headers=agent
    ).json()
    assert len(overdue["items"]) == 1
    with pytest.raises(Exception, match="Reply"):
        service.close_regulator_case(db, service.get_regulator_case(db, overdue["items"][0]["id"], p), p)
