"""Routing: rules to teams, B2B dedicated teams, VIP bumps, and the assignment strategies."""

from __future__ import annotations

from typing import Any

from kefu.routing.commands import CreateRoutingRule
from tests.tickets.helpers import Clock, admin_principal


def _team(db: Any, brand: Any, slug: str, members: list[tuple[Any, bool]], p: Any) -> Any:
    from kefu.auth.service import create_team, set_team_members

    team = create_team(db, brand_id=brand.id, slug=slug, name=slug, description="", actor=p)
    set_team_members(db, team, [(a.id, lead) for a, lead in members], p)
    return team


def _online(db: Any, *agents: Any, capacity: int = 5, skills: list[str] | None = None) -> None:
    for a in agents:
        a.availability, a.capacity = "online", capacity
        if skills is not None:
            a.skills = skills
    db.flush()


def test_rules_b2b_vip_and_explicit_team(db: Any, make: Any, clock: Clock) -> None:
    from kefu.customers.service import create_organization
    from kefu.routing.service import install_default_routing
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    teams = {s: _team(db, brand, s, [], p) for s in ("security", "finance", "content-review", "ops", "general", "b2b")}
    added = install_default_routing(db, brand.id, p)
    assert added == {"rules": 7, "teams": 6}
    org = create_organization(
        db, brand_id=brand.id, name="晨光", domain=None, dedicated_team_id=teams["b2b"].id, notes="", actor=p
    )
    vip = make.customer(brand, name="VIP", vip=True)
    b2b = make.customer(brand, name="B2B", organization_id=org.id)

    t1 = create_ticket(db, brand_id=brand.id, subject="帳號異常", actor=p, category="account_anomaly")
    assert (t1.team_id, t1.priority) == (teams["security"].id, "normal")
    t2 = create_ticket(db, brand_id=brand.id, subject="退款", actor=p, category="refund", customer_id=vip.id)
    assert (t2.team_id, t2.priority) == (teams["finance"].id, "high")  # VIP bump
    t3 = create_ticket(db, brand_id=brand.id, subject="付款", actor=p, category="payment_failure", customer_id=b2b.id)
    assert t3.team_id == teams["b2b"].id  # the organization's dedicated team wins over the category rule
    t4 = create_ticket(
        db, brand_id=brand.id, subject="x", actor=p, category="system_failure", team_id=teams["general"].id
    )
    assert t4.team_id == teams["general"].id  # an explicit team is kept
    t5 = create_ticket(
        db, brand_id=brand.id, subject="y", actor=p, category="refund", customer_id=vip.id, priority="low"
    )
    assert t5.priority == "low"  # an explicit priority is not bumped
    assert t1.assignee_id is None  # nobody online: queued


def test_least_loaded_capacity_and_online_only(db: Any, make: Any, clock: Clock) -> None:
    from kefu.routing.service import set_team_routing
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    a, b, off = (make.agent("agent", [brand]) for _ in range(3))
    team = _team(db, brand, "finance", [(a, False), (b, False), (off, False)], p)
    set_team_routing(db, team.id, p, strategy="least_loaded", auto_assign=True)
    _online(db, a, b, capacity=2)
    got = [
        create_ticket(db, brand_id=brand.id, subject=f"t{i}", actor=p, team_id=team.id).assignee_id for i in range(5)
    ]
    # Ties go to the lower id; the offline agent never gets work; the fifth waits (both at capacity 2).
    assert got == [a.id, b.id, a.id, b.id, None]


def test_round_robin_and_queue_dispatch_when_capacity_frees(db: Any, make: Any, clock: Clock, jobs: Any) -> None:
    from kefu.routing.service import dispatch_queue, set_team_routing
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket, update_ticket

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    a, b, c = (make.agent("agent", [brand]) for _ in range(3))
    team = _team(db, brand, "general", [(a, False), (b, False), (c, False)], p)
    set_team_routing(db, team.id, p, strategy="round_robin", auto_assign=True)
    _online(db, a, b, c, capacity=1)
    got = [create_ticket(db, brand_id=brand.id, subject=f"t{i}", actor=p, team_id=team.id) for i in range(4)]
    assert [t.assignee_id for t in got] == [a.id, b.id, c.id, None]
    queued = got[3]
    # Pending on the customer frees the agent's capacity; the queue is dispatched.
    update_ticket(db, got[1], p, {"status": "pending"})
    assert dispatch_queue(db, team.id) == 1
    assert queued.assignee_id == b.id and queued.status == "open"
    db.commit()
    jobs.drain()
    assert db.get(Ticket, queued.id).assignee_id == b.id


def test_skills_strategy_requires_skills(db: Any, make: Any, clock: Clock) -> None:
    from kefu.routing.service import create_rule, set_team_routing
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    zh, en = make.agent("agent", [brand]), make.agent("agent", [brand])
    team = _team(db, brand, "general", [(zh, False), (en, False)], p)
    set_team_routing(db, team.id, p, strategy="skills", auto_assign=True)
    _online(db, zh, skills=["lang:zh", "refund"])
    _online(db, en, skills=["lang:en"])
    create_rule(
        db,
        CreateRoutingRule(
            brand_id=brand.id, name="refund skill", conditions={"category": "refund"}, required_skills=["refund"]
        ),
        actor=p,
    )
    t_en = create_ticket(db, brand_id=brand.id, subject="Where", actor=p, team_id=team.id, language="en")
    t_zh = create_ticket(
        db, brand_id=brand.id, subject="退款", actor=p, team_id=team.id, category="refund", language="zh-TW"
    )
    t_en_refund = create_ticket(
        db, brand_id=brand.id, subject="Refund", actor=p, team_id=team.id, category="refund", language="en"
    )
    assert (t_en.assignee_id, t_zh.assignee_id, t_en_refund.assignee_id) == (en.id, zh.id, None)


def test_manual_team_and_team_change_reassigns(db: Any, make: Any, clock: Clock) -> None:
    from kefu.routing.service import set_team_routing
    from kefu.tickets.service import create_ticket, update_ticket

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    a, b = make.agent("agent", [brand]), make.agent("agent", [brand])
    manual = _team(db, brand, "vip", [(a, False)], p)
    auto = _team(db, brand, "ops", [(b, False)], p)
    set_team_routing(db, manual.id, p, strategy="manual", auto_assign=True)
    set_team_routing(db, auto.id, p, strategy="least_loaded", auto_assign=True)
    _online(db, a, b)
    t = create_ticket(db, brand_id=brand.id, subject="x", actor=p, team_id=manual.id)
    assert t.assignee_id is None
    update_ticket(db, t, p, {"assignee_id": a.id})
    update_ticket(db, t, p, {"team_id": auto.id})  # a is not in ops: unassigned, then routed in ops
    assert (t.team_id, t.assignee_id) == (auto.id, b.id)


def test_routing_api(client: Any, db: Any, make: Any, clock: Clock) -> None:
    brand = make.brand()
    sup, agent = make.agent("supervisor", [brand]), make.agent("agent", [brand])
    hs, ha = make.token(sup), make.token(agent)
    team = client.post("/api/v1/teams", json={"brand_id": brand.id, "slug": "ops", "name": "運維"}, headers=hs).json()
    rule = {
        "brand_id": brand.id,
        "name": "outage",
        "conditions": {"category": ["system_failure", "bug"]},
        "team_id": team["id"],
    }
    assert client.post("/api/v1/routing/rules", json=rule, headers=ha).status_code == 403
    r = client.post("/api/v1/routing/rules", json=rule, headers=hs)
    assert r.status_code == 201
    bad = client.post("/api/v1/routing/rules", json={**rule, "conditions": {"colour": "red"}}, headers=hs)
    assert bad.status_code == 422
    assert client.get(f"/api/v1/routing/teams/{team['id']}", headers=ha).json()["strategy"] == "manual"
    client.put(f"/api/v1/routing/teams/{team['id']}", json={"strategy": "least_loaded"}, headers=hs)
    t = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "bug", "category": "bug"}, headers=ha
    ).json()
    assert t["team_id"] == team["id"] and t["assignee_id"] is None
    preview = client.get(f"/api/v1/routing/tickets/{t['id']}/preview", headers=ha).json()
    assert preview["rules"] == ["outage"] and preview["team_reason"] == "rule:outage"
    d = client.post(f"/api/v1/routing/tickets/{t['id']}/dispatch", json={"agent_id": agent.id}, headers=hs).json()
    assert d["assignee_id"] == agent.id and d["status"] == "open"
    notes = client.get("/api/v1/notifications", headers=ha).json()["items"]
    assert [n["kind"] for n in notes] == ["ticket.assigned"]
