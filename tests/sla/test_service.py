"""SLA state on tickets: policy matching from the DB, deadlines, pauses, warnings, breach, escalation, sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.tickets.helpers import Clock, admin_principal, tw


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def _setup(db: Any, make: Any) -> dict[str, Any]:
    from kefu.auth.service import create_team, set_team_members
    from kefu.sla.service import install_defaults, set_escalation_contacts

    brand = make.brand()
    admin = make.agent("admin")
    p = admin_principal(admin)
    agents = {k: make.agent("agent", [brand]) for k in ("a", "lead", "qa", "director", "gm")}
    team = create_team(db, brand_id=brand.id, slug="security_center", name="安全中心", description="", actor=p)
    set_team_members(db, team, [(agents["a"].id, False), (agents["lead"].id, True)], p)
    assert install_defaults(db, brand.id, p) == {"calendars": 2, "policies": 12}  # + "standard" tier (#17)
    assert install_defaults(db, brand.id, p) == {"calendars": 0, "policies": 0}  # idempotent
    set_escalation_contacts(
        db,
        brand.id,
        [
            ("qa_supervisor", agents["qa"].id, None),
            ("director", agents["director"].id, None),
            ("general_manager", agents["gm"].id, None),
        ],
        p,
    )
    db.commit()
    return {"brand": brand, "p": p, "team": team, **agents}


def _notes(db: Any, ticket_id: int) -> list[tuple[str, int]]:
    from kefu.sla.models import Notification

    rows = db.scalars(
        select(Notification)
        .where(Notification.ticket_id == ticket_id, Notification.kind.like("sla.%"))
        .order_by(Notification.id)
    )
    return [(n.kind, n.agent_id) for n in rows]


def test_account_anomaly_warning_breach_and_escalation_ladder(db: Any, make: Any, clock: Clock, events: Any) -> None:
    from kefu.sla import service as sla
    from kefu.sla.policy import SlaPolicy
    from kefu.tickets.service import add_comment, create_ticket, update_ticket

    s = _setup(db, make)
    # The first-response ladder alone: the security steps' milestones are tested in tests/account_security.
    row = next(r for r in sla.list_policies(db, s["brand"].id) if r.name == "security.account_anomaly")
    policy = SlaPolicy.model_validate({**row.definition, "name": row.name})
    plain = policy.model_copy(update={"targets": [x for x in policy.targets if x.kind != "milestone"]})
    sla.update_policy(db, row, s["p"], policy=plain)
    t = create_ticket(db, brand_id=s["brand"].id, subject="帳號被盜", actor=s["p"], category="account_anomaly")
    # The policy raises the priority to urgent and fills in its team.
    assert (t.priority, t.team_id) == ("urgent", s["team"].id)
    update_ticket(db, t, s["p"], {"assignee_id": s["a"].id})
    s["lead"].locale = "en"
    db.commit()
    state, targets = sla.ticket_sla(db, t.id)
    assert state is not None and state.policy_name == "security.account_anomaly"
    fr = next(x for x in targets if x.key == "first_response")
    assert (fr.due_at, fr.warn_at) == (utc(tw(2026, 3, 2, 9, 15)), utc(tw(2026, 3, 2, 9, 12)))
    assert [x.key for x in targets] == ["first_response"]  # next_update starts at the first response
    assert state.next_check_at == utc(tw(2026, 3, 2, 9, 12))

    assert sla.sweep(db, utc(tw(2026, 3, 2, 9, 11))).checked == 0  # nothing due yet: untouched
    r = sla.sweep(db, utc(tw(2026, 3, 2, 9, 12)))
    assert (r.checked, r.warned, r.breached) == (1, 1, 0)
    assert _notes(db, t.id) == [("sla.warning", s["a"].id)]
    assert state.next_check_at is not None and state.next_check_at > utc(tw(2026, 3, 2, 9, 15))

    r = sla.sweep(db, utc(tw(2026, 3, 2, 9, 16)))
    assert (r.breached, r.escalated) == (1, 1)
    assert _notes(db, t.id)[1:] == [("sla.breach", s["a"].id), ("sla.escalation", s["lead"].id)]
    # Titled in each recipient's locale (the agent reads zh-TW, the lead's account is set to English below).
    from kefu.sla.models import Notification

    titles = {n.kind: n.title for n in db.scalars(select(Notification).where(Notification.ticket_id == t.id))}
    assert titles["sla.breach"].startswith(f"SLA 已逾時：{t.number}")
    assert titles["sla.escalation"].startswith(f"SLA escalated to the team lead: {t.number}")
    assert (state.status, state.breached, state.escalation_level) == ("breached", True, 1)

    assert sla.sweep(db, utc(tw(2026, 3, 2, 10, 15))).checked == 0  # next climb is just after 10:15
    sla.sweep(db, utc(tw(2026, 3, 2, 10, 16)))
    assert _notes(db, t.id)[-1] == ("sla.escalation", s["qa"].id)
    # Two hours later two more levels are due; one pass notifies both, in order.
    sla.sweep(db, utc(tw(2026, 3, 2, 12, 16)))
    assert _notes(db, t.id)[-2:] == [("sla.escalation", s["director"].id), ("sla.escalation", s["gm"].id)]
    assert state.escalation_level == 4 and state.next_check_at is None  # top of the ladder
    db.commit()
    assert any(e.type == "sla.breached" and f"brand:{s['brand'].id}" in e.topics for e in events)
    assert any(e.type == "notification.created" and e.topics == (f"agent:{s['gm'].id}",) for e in events)

    # A late first response: the target is 'missed', and the 30-minute status-update clock starts.
    clock.set(tw(2026, 3, 2, 12, 30))
    add_comment(db, t, s["p"], "我們正在處理", public=True)
    state, targets = sla.ticket_sla(db, t.id)
    by_key = {x.key: x for x in targets}
    assert by_key["first_response"].status == "missed"
    assert by_key["first_response"].met_at == utc(tw(2026, 3, 2, 12, 30))
    assert by_key["next_update"].due_at == utc(tw(2026, 3, 2, 13, 0))
    assert state is not None and state.breached and state.next_check_at == utc(tw(2026, 3, 2, 12, 54))


def test_business_hours_clock_pauses_while_pending(db: Any, make: Any, clock: Clock) -> None:
    from kefu.sla import service as sla
    from kefu.tickets.service import create_ticket, update_ticket

    s = _setup(db, make)
    clock.set(tw(2026, 3, 2, 11, 0))
    t = create_ticket(
        db,
        brand_id=s["brand"].id,
        subject="客服態度",
        actor=s["p"],
        category="complaint",
        custom_fields={"complaint_level": "normal"},
    )
    state, targets = sla.ticket_sla(db, t.id)
    assert state is not None and state.policy_name == "complaint.normal" and t.priority == "normal"
    fr = targets[0]
    # 2 business hours from 11:00 with a 12:00-13:00 lunch: 14:00; warning at 80 % (96 min) = 13:36.
    assert (fr.due_at, fr.warn_at) == (utc(tw(2026, 3, 2, 14, 0)), utc(tw(2026, 3, 2, 13, 36)))

    clock.set(tw(2026, 3, 2, 11, 30))
    update_ticket(db, t, s["p"], {"status": "pending"})
    state, targets = sla.ticket_sla(db, t.id)
    assert state is not None and (targets[0].status, targets[0].due_at, state.next_check_at) == ("paused", None, None)
    assert sla.sweep(db, utc(tw(2026, 3, 3, 9, 0))).checked == 0  # paused tickets are never swept

    clock.set(tw(2026, 3, 2, 13, 30))
    update_ticket(db, t, s["p"], {"status": "open"})
    state, targets = sla.ticket_sla(db, t.id)
    # 30 business minutes ran before the pause; the remaining 90 run from 13:30.
    assert targets[0].due_at == utc(tw(2026, 3, 2, 15, 0))
    assert targets[0].status == "running"


def test_resolution_meets_targets_and_reopen_restarts(db: Any, make: Any, clock: Clock) -> None:
    from kefu.sla import service as sla
    from kefu.tickets.service import create_ticket, update_ticket

    s = _setup(db, make)
    t = create_ticket(
        db,
        brand_id=s["brand"].id,
        subject="爭議",
        actor=s["p"],
        category="complaint",
        custom_fields={"complaint_level": "dispute"},
    )
    _, targets = sla.ticket_sla(db, t.id)
    assert {x.key: x.due_at for x in targets} == {
        "first_response": utc(tw(2026, 3, 2, 11, 0)),
        "resolution": utc(tw(2026, 3, 2, 18, 0)),  # 8 business hours: 9-12 + 13-18
    }
    clock.set(tw(2026, 3, 2, 16, 0))
    update_ticket(db, t, s["p"], {"status": "resolved"})
    _, targets = sla.ticket_sla(db, t.id)
    by_key = {x.key: x for x in targets}
    assert by_key["resolution"].status == "met"
    assert by_key["first_response"].status == "breached"  # nobody answered by 11:00
    assert by_key["csat_survey"].due_at == utc(tw(2026, 3, 4, 16, 0))  # 48 h after resolution
    clock.set(tw(2026, 3, 3, 10, 0))
    sla.mark_survey_sent(db, t)
    _state, targets = sla.ticket_sla(db, t.id)
    assert {x.key: x.status for x in targets}["csat_survey"] == "met"

    clock.set(tw(2026, 3, 3, 11, 0))
    update_ticket(db, t, s["p"], {"status": "open"})  # reopen
    _, targets = sla.ticket_sla(db, t.id)
    assert t.reopen_count == 1
    assert {x.key for x in targets} == {"first_response", "resolution"}  # CSAT clock dropped until resolved again
    assert {x.key: x.status for x in targets}["resolution"] == "breached"


def test_policy_rematch_on_category_change_and_no_policy(db: Any, make: Any, clock: Clock) -> None:
    from kefu.sla import service as sla
    from kefu.tickets.service import create_ticket, update_ticket

    s = _setup(db, make)
    t = create_ticket(db, brand_id=s["brand"].id, subject="付款", actor=s["p"], category="payment_failure")
    assert sla.ticket_sla(db, t.id)[0].policy_name == "finance.payment_failure"  # type: ignore[union-attr]
    assert t.priority == "high"
    update_ticket(db, t, s["p"], {"category": "system_failure"})
    state, targets = sla.ticket_sla(db, t.id)
    assert state is not None and state.policy_name == "ops.system_failure"
    assert targets[0].due_at == utc(tw(2026, 3, 2, 9, 5))
    # A brand without policies keeps tickets free of SLA state.
    other = make.brand(ticket_prefix="OT")
    t2 = create_ticket(db, brand_id=other.id, subject="x", actor=None, category="system_failure")
    assert sla.ticket_sla(db, t2.id) == (None, [])


def test_team_calendar_override(db: Any, make: Any, clock: Clock) -> None:
    from kefu.auth.service import create_team
    from kefu.sla import service as sla
    from kefu.sla.calendar import CalendarConfig
    from kefu.tickets.service import create_ticket

    s = _setup(db, make)
    night = create_team(db, brand_id=s["brand"].id, slug="night", name="夜班", description="", actor=s["p"])
    # The night desk works 20:00-23:00 on weekdays: its "business" calendar overrides the brand's.
    sla.save_calendar(
        db,
        brand_id=s["brand"].id,
        team_id=night.id,
        config=CalendarConfig(name="business", weekly_hours={d: ["20:00-23:00"] for d in ("mon", "tue")}),
        actor=s["p"],
    )
    t = create_ticket(
        db,
        brand_id=s["brand"].id,
        subject="投訴",
        actor=s["p"],
        category="complaint",
        team_id=night.id,
        custom_fields={"complaint_level": "normal"},
    )
    _, targets = sla.ticket_sla(db, t.id)
    assert targets[0].due_at == utc(tw(2026, 3, 2, 22, 0))


def test_sla_api_defaults_state_notifications_and_permissions(client: Any, db: Any, make: Any, clock: Clock) -> None:
    brand = make.brand()
    sup = make.agent("supervisor", [brand])
    agent = make.agent("agent", [brand])
    hs, ha = make.token(sup), make.token(agent)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=ha).status_code == 403
    r = client.post("/api/v1/sla/defaults", json={"brand_id": brand.id, "routing": False}, headers=hs)
    assert r.status_code == 200 and r.json()["policies"] == 12 and r.json()["categories"] == 8
    policies = client.get("/api/v1/sla/policies", params={"brand_id": brand.id}, headers=ha).json()
    assert [p["name"] for p in policies][:2] == ["ops.system_failure", "security.account_anomaly"]
    bad = client.post(
        "/api/v1/sla/policies",
        json={"brand_id": brand.id, "policy": {"name": "x", "targets": []}},
        headers=hs,
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    custom = {
        "brand_id": brand.id,
        "position": 1,
        "policy": {
            "name": "vip.refund",
            "conditions": {"category": "refund", "vip": "true"},
            "targets": [{"kind": "first_response", "amount": 10, "unit": "minutes"}],
            "calendar": "24x7",
        },
    }
    assert client.post("/api/v1/sla/policies", json=custom, headers=hs).status_code == 201
    cust = make.customer(brand, name="VIP", vip=True)
    t = client.post(
        "/api/v1/tickets",
        json={"brand_id": brand.id, "subject": "退款", "category": "refund", "customer_id": cust.id},
        headers=ha,
    ).json()
    state = client.get(f"/api/v1/tickets/{t['id']}/sla", headers=ha).json()
    assert state["policy_name"] == "vip.refund" and state["escalation_name"] == "agent"
    assert state["targets"][0]["due_at"].startswith("2026-03-02T01:10:00")
    risk = client.get("/api/v1/sla/at-risk", params={"brand_id": brand.id, "within_minutes": 15}, headers=ha).json()
    assert [x["ticket_id"] for x in risk["items"]] == [t["id"]]
    client.patch(f"/api/v1/tickets/{t['id']}", json={"assignee_id": agent.id}, headers=ha)
    clock.set(tw(2026, 3, 2, 9, 11))
    admin = make.token(make.agent("admin"))
    assert client.post("/api/v1/sla/sweep", headers=hs).status_code == 403
    swept = client.post("/api/v1/sla/sweep", headers=admin).json()
    assert swept["breached"] == 1 and swept["escalated"] == 1
    notes = client.get("/api/v1/notifications", params={"unread": True}, headers=ha).json()["items"]
    assert [n["kind"] for n in notes] == ["sla.breach"]  # already late at the sweep: no separate warning
    assert client.post(f"/api/v1/notifications/{notes[0]['id']}/read", headers=ha).status_code == 204
    assert client.post(f"/api/v1/notifications/{notes[0]['id']}/read", headers=hs).status_code == 404
    assert client.post("/api/v1/notifications/read-all", headers=ha).json() == {"updated": 0}
    assert client.get("/api/v1/notifications", params={"unread": True}, headers=ha).json()["items"] == []
