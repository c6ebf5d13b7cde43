"""Shift schedules (#17 排班): weekly shifts and exceptions per team; routing and call-back slots follow them."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import Clock, admin_principal, tw


def _team(client: Any, h: dict[str, str], brand: Any) -> int:
    r = client.post("/api/v1/teams", json={"brand_id": brand.id, "slug": "general", "name": "客服組"}, headers=h)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_schedule_api_scopes_validation_and_who_is_on_shift(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from kefu.auth.models import Team
    from kefu.auth.service import set_team_members

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    h = make.token(admin)
    day, night, outsider = (make.agent("agent", [brand]) for _ in range(3))
    team_id = _team(client, h, brand)
    set_team_members(db, db.get(Team, team_id), [(day.id, False), (night.id, False)], admin_principal(admin))
    db.commit()
    week = [{"agent_id": day.id, "weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)]
    week.append({"agent_id": night.id, "weekday": 0, "start": "22:00", "end": "06:00"})  # Monday night → Tuesday
    # An agent may read but not change schedules; a scoped read token neither.
    assert (
        client.put(f"/api/v1/teams/{team_id}/shifts", json={"shifts": week}, headers=make.token(day)).status_code == 403
    )
    reader = make.token(admin, scopes=["tickets:read"])
    assert client.put(f"/api/v1/teams/{team_id}/shifts", json={"shifts": week}, headers=reader).status_code == 403
    bad = [{"agent_id": outsider.id, "weekday": 0, "start": "09:00", "end": "18:00"}]
    assert client.put(f"/api/v1/teams/{team_id}/shifts", json={"shifts": bad}, headers=h).status_code == 422
    odd = [{"agent_id": day.id, "weekday": 0, "start": "25:00", "end": "18:00"}]
    r = client.put(f"/api/v1/teams/{team_id}/shifts", json={"shifts": odd}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = client.put(f"/api/v1/teams/{team_id}/shifts", json={"shifts": week}, headers=h)
    assert r.status_code == 200, r.text
    assert len(r.json()["shifts"]) == 6 and r.json()["timezone"] == "Asia/Taipei"

    def on(at: Any) -> list[int]:
        got = client.get(f"/api/v1/teams/{team_id}/on-shift", params={"at": at.isoformat()}, headers=reader)
        assert got.status_code == 200, got.text
        return list(got.json()["agent_ids"])

    assert on(tw(2026, 3, 2, 10, 0)) == [day.id]  # Monday morning
    assert on(tw(2026, 3, 2, 23, 0)) == [night.id]  # Monday night
    assert on(tw(2026, 3, 3, 3, 0)) == [night.id]  # the night shift runs past midnight
    assert on(tw(2026, 3, 3, 7, 0)) == []
    assert on(tw(2026, 3, 7, 10, 0)) == []  # Saturday
    # Leave for the day shift, an extra (overtime) shift for the night agent.
    leave = {"agent_id": day.id, "day": "2026-03-04", "available": False, "note": "特休"}
    r = client.post(f"/api/v1/teams/{team_id}/shift-exceptions", json=leave, headers=h)
    assert r.status_code == 201, r.text
    extra = {"agent_id": night.id, "day": "2026-03-04", "available": True, "start": "09:00", "end": "13:00"}
    assert client.post(f"/api/v1/teams/{team_id}/shift-exceptions", json=extra, headers=h).status_code == 201
    assert on(tw(2026, 3, 4, 10, 0)) == [night.id] and on(tw(2026, 3, 4, 14, 0)) == []
    # The 24-hour view: who covers each half hour, the uncovered stretches, overtime from extra shifts.
    cov = client.get(f"/api/v1/teams/{team_id}/coverage", params={"start": "2026-03-02", "days": 1}, headers=reader)
    assert cov.status_code == 200, cov.text
    assert cov.json()["gaps"] == [["2026-03-02 00:00", "2026-03-02 09:00"], ["2026-03-02 18:00", "2026-03-02 22:00"]]
    assert cov.json()["counts"]["2026-03-02"][20] == 1  # 10:00
    cov = client.get(f"/api/v1/teams/{team_id}/coverage", params={"start": "2026-03-04", "days": 1}, headers=reader)
    assert cov.json()["overtime_minutes"] == {str(night.id): 240}
    assert cov.json()["gaps"][1] == ["2026-03-04 13:00", "2026-03-05 00:00"]  # day shift on leave
    no_times = {"agent_id": night.id, "day": "2026-03-05", "available": True}
    assert client.post(f"/api/v1/teams/{team_id}/shift-exceptions", json=no_times, headers=h).status_code == 422
    client.delete(f"/api/v1/shift-exceptions/{r.json()['id']}", headers=h).raise_for_status()
    assert on(tw(2026, 3, 4, 10, 0)) == [day.id, night.id]
    from sqlalchemy import select

    from kefu.audit.models import AuditLog

    removed = db.scalars(select(AuditLog).where(AuditLog.action == "shifts.exception_remove")).all()
    assert [e.details["day"] for e in removed] == ["2026-03-04"]  # a removed leave is audited like an added one
    # Another brand's admin sees nothing.
    other = make.agent("supervisor", [make.brand()])
    assert client.get(f"/api/v1/teams/{team_id}/shifts", headers=make.token(other)).status_code == 404


def test_routing_assigns_only_on_shift_agents_and_call_back_slots_follow_the_roster(
    db: Any, make: Any, clock: Clock, count_queries: Any
) -> None:
    from kefu.auth.service import create_team, set_team_members
    from kefu.brands.models import Brand
    from kefu.callbacks.service import slots
    from kefu.routing.service import set_team_routing
    from kefu.shifts.service import PatternIn, add_exception, set_patterns
    from kefu.tickets.service import create_ticket

    brand = make.brand(timezone="Asia/Taipei")
    p = admin_principal(make.agent("admin"))
    a, b = (make.agent("agent", [brand]) for _ in range(2))
    team = create_team(db, brand_id=brand.id, slug="finance", name="財務組", description="", actor=p)
    set_team_members(db, team, [(a.id, False), (b.id, False)], p)
    set_team_routing(db, team.id, p, strategy="least_loaded", auto_assign=True)
    for agent in (a, b):
        agent.availability, agent.capacity = "online", 5
    db.flush()
    clock.set(tw(2026, 3, 2, 10, 0))  # Monday 10:00 Taipei
    # No schedule yet: both online agents share the work.
    got = [
        create_ticket(db, brand_id=brand.id, subject=f"t{i}", actor=p, team_id=team.id).assignee_id for i in range(2)
    ]
    assert sorted(got) == sorted([a.id, b.id])
    # a works weekdays 09–12, b afternoons 13–18: at 10:00 only a gets new cases although b is "online".
    set_patterns(db, team, [PatternIn(a.id, 0, 0, 60)], p)  # replaced wholesale by the next call
    set_patterns(
        db,
        team,
        [PatternIn(a.id, d, 9 * 60, 12 * 60) for d in range(5)]
        + [PatternIn(b.id, d, 13 * 60, 18 * 60) for d in range(5)],
        p,
    )
    got = [
        create_ticket(db, brand_id=brand.id, subject=f"m{i}", actor=p, team_id=team.id).assignee_id for i in range(3)
    ]
    assert got == [a.id, a.id, a.id]
    # The roster costs routing three statements (brand timezone, patterns, exceptions), whatever the team size.
    from kefu.shifts.service import team_on_shift

    with count_queries() as q:
        assert team_on_shift(db, team.id) == {a.id}
    assert q.count == 3, str(q)
    clock.set(tw(2026, 3, 2, 12, 30))  # lunch: nobody on shift, the case waits in the queue
    assert create_ticket(db, brand_id=brand.id, subject="lunch", actor=p, team_id=team.id).assignee_id is None
    clock.set(tw(2026, 3, 2, 14, 0))
    assert create_ticket(db, brand_id=brand.id, subject="pm", actor=p, team_id=team.id).assignee_id == b.id
    # b on leave Tuesday afternoon: nobody gets Tuesday 14:00 cases.
    add_exception(db, team, p, agent_id=b.id, day=tw(2026, 3, 3).date(), available=False)
    clock.set(tw(2026, 3, 3, 14, 0))
    assert create_ticket(db, brand_id=brand.id, subject="tue", actor=p, team_id=team.id).assignee_id is None

    # Call-back slots (capacity 2 a slot): one agent on shift → one place; no one on shift → no slot.
    clock.set(tw(2026, 3, 2, 7, 0))
    offered = {s.local: s.left for s in slots(db, db.get(Brand, brand.id))}
    assert offered["2026-03-02 09:00"] == 1 and offered["2026-03-02 14:00"] == 1
    assert "2026-03-02 12:00" not in offered and "2026-03-02 12:30" not in offered
    assert "2026-03-03 14:00" not in offered  # b's leave
