"""Follow-up visits (#17, seed 003 「售後回訪」「7天內3次主動溝通」): planned after resolution, queued, recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.tickets.helpers import Clock, tw


def test_resolved_cases_get_follow_ups_per_rule_agents_record_outcomes_and_reports_count_them(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.core.jobs import run_job
    from kefu.followups import service
    from kefu.registry import load_jobs
    from tests.web.test_admin_pages import _login

    load_jobs()
    brand = make.brand()
    admin = make.agent("admin")
    agent = make.agent("agent", [brand])
    h = make.token(admin)
    ah = make.token(agent)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    start = clock.set(tw(2026, 3, 2, 9, 0))

    # Rules: account-security cases get 3 contacts within 7 days; any urgent case one call the next day.
    rule = {"brand_id": brand.id, "name": "帳號安全 7天3次", "category": "account_anomaly", "attempts": 3}
    r = client.post("/api/v1/follow-up-rules", json={**rule, "within_days": 7, "first_after_hours": 24}, headers=h)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/follow-up-rules", json={**rule, "within_days": 7}, headers=h).status_code == 409
    assert (
        client.post("/api/v1/follow-up-rules", json={**rule, "name": "x", "attempts": 0}, headers=h).status_code == 422
    )
    assert client.post("/api/v1/follow-up-rules", json={**rule, "name": "y"}, headers=ah).status_code == 403
    urgent = {"brand_id": brand.id, "name": "緊急案件回訪", "priority": "urgent", "attempts": 1, "within_days": 2}
    assert client.post("/api/v1/follow-up-rules", json=urgent, headers=h).status_code == 201

    def case(**kw: Any) -> dict[str, Any]:
        body = {"brand_id": brand.id, "subject": "帳號被盜", "assignee_id": agent.id, **kw}
        t = client.post("/api/v1/tickets", json=body, headers=h)
        assert t.status_code == 201, t.text
        return dict(t.json())

    security = case(category="account_anomaly", priority="high")
    hurry = case(priority="urgent", category="payment_failure")
    plain = case(priority="normal", category="payment_failure")
    for t in (security, hurry, plain):
        assert client.patch(f"/api/v1/tickets/{t['id']}", json={"status": "resolved"}, headers=ah).is_success

    run_job("followups.plan", {})
    run_job("followups.plan", {})  # once per case
    q = client.get("/api/v1/follow-ups", params={"brand_id": brand.id}, headers=ah).json()["items"]
    got = [(i["ticket_id"], i["attempt"], i["of_attempts"], i["due_at"][:16]) for i in q]
    s0 = start.replace(tzinfo=None)
    assert [g[:3] for g in got] == [
        (security["id"], 1, 3),
        (hurry["id"], 1, 1),
        (security["id"], 2, 3),
        (security["id"], 3, 3),
    ]
    assert got[0][3] == (start + timedelta(days=1)).isoformat()[:16] and s0  # first contact a day after resolution
    assert got[3][3] == (start + timedelta(days=7)).isoformat()[:16]  # the last at the end of the 7 days
    assert all(i["assignee_id"] == agent.id for i in q) and plain["id"] not in {i["ticket_id"] for i in q}

    # When an attempt falls due its assignee is told once; the "due" filter shows what to call now.
    clock.advance(days=1, minutes=5)
    assert service.plan(db, clock()).notified == 2
    db.commit()
    assert service.plan(db, clock()).notified == 0
    notes = client.get("/api/v1/notifications", headers=ah).json()["items"]
    assert sorted(n["ticket_id"] for n in notes if n["kind"] == "follow_up.due") == sorted(
        [security["id"], hurry["id"]]
    )
    # Titled in the assignee's locale (zh-TW by default), not a bilingual string.
    titles = [n["title"] for n in notes if n["kind"] == "follow_up.due"]
    assert all(x.startswith("回訪到期：") and "Follow-up" not in x for x in titles)
    due = client.get("/api/v1/follow-ups", params={"mine": True, "due": True}, headers=ah).json()["items"]
    assert len(due) == 2

    # Outcomes: reached, then not reached; a re-opened case goes back to open and cancels its remaining contacts.
    ids = {(i["ticket_id"], i["attempt"]): i["id"] for i in q}
    ok = client.post(f"/api/v1/follow-ups/{ids[(hurry['id'], 1)]}/outcome", json={"outcome": "reached"}, headers=ah)
    assert ok.status_code == 200 and ok.json()["status"] == "done", ok.text
    again = client.post(f"/api/v1/follow-ups/{ids[(hurry['id'], 1)]}/outcome", json={"outcome": "reached"}, headers=ah)
    assert again.status_code == 409
    bad = client.post(f"/api/v1/follow-ups/{ids[(security['id'], 1)]}/outcome", json={"outcome": "maybe"}, headers=ah)
    assert bad.status_code == 422
    nr = {"outcome": "not_reached", "note": "電話無人接聽"}
    assert client.post(f"/api/v1/follow-ups/{ids[(security['id'], 1)]}/outcome", json=nr, headers=ah).is_success
    clock.advance(days=3)
    reo = {"outcome": "reopened", "note": "客戶表示仍無法登入"}
    assert client.post(f"/api/v1/follow-ups/{ids[(security['id'], 2)]}/outcome", json=reo, headers=ah).is_success
    st = client.get(f"/api/v1/tickets/{security['id']}", headers=ah).json()
    assert st["status"] == "open"
    left = client.get("/api/v1/follow-ups", params={"brand_id": brand.id, "status": "cancelled"}, headers=ah).json()
    assert [(i["ticket_id"], i["attempt"]) for i in left["items"]] == [(security["id"], 3)]

    # Reports: due in the period, done on time, by outcome, reach rate per case.
    params = {"brand_id": brand.id, "start": start.isoformat(), "end": (start + timedelta(days=10)).isoformat()}
    stats = client.get("/api/v1/follow-ups/stats", params=params, headers=h)
    assert stats.status_code == 200, stats.text
    s = stats.json()
    assert (s["planned"], s["done"], s["reached"], s["not_reached"], s["reopened"], s["cancelled"]) == (
        4,
        3,
        1,
        1,
        1,
        1,
    )
    assert (s["cases"], s["cases_reached"], s["reach_rate"], s["on_time"]) == (2, 2, 1.0, 3)
    # The weekly report carries the same figures (follow-through table).
    qs = f"start={start.date().isoformat()}&end={(start + timedelta(days=9)).date().isoformat()}&brand_id={brand.id}"
    weekly = client.get(f"/api/v1/analytics/reports/weekly.csv?{qs}&lang=en", headers=h)
    assert weekly.status_code == 200, weekly.text
    assert "Follow-ups (done / planned)" in weekly.text and "3 / 4" in weekly.text
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get("/api/v1/follow-ups", headers=other).json()["items"] == []
    assert client.post(
        f"/api/v1/follow-ups/{ids[(security['id'], 3)]}/outcome", json=nr, headers=other
    ).status_code in (
        403,
        404,
    )

    # The console queue: pending and done lists, an outcome form per row, times in the brand's timezone.
    client.headers.pop("Authorization", None)
    hdr = _login(client, agent)
    page = client.get("/console/follow-ups?status=done")
    assert page.status_code == 200 and "電話無人接聽" in page.text and "台灣時間（UTC+8）" in page.text
    case4 = case(priority="urgent")
    assert client.patch(f"/api/v1/tickets/{case4['id']}", json={"status": "resolved"}, headers=h).is_success
    service.plan(db, clock())
    db.commit()
    page = client.get("/console/follow-ups")
    assert page.status_code == 200 and case4["number"] in page.text and 'name="outcome"' in page.text
    fid = client.get("/api/v1/follow-ups", params={"brand_id": brand.id}, headers=h).json()["items"][0]["id"]
    row = client.post(f"/console/follow-ups/{fid}/outcome", data={"outcome": "reached", "note": "已確認"}, headers=hdr)
    assert row.status_code == 200 and "已聯絡上" in row.text and "已確認" in row.text


def test_team_lead_manages_follow_up_rules_in_admin(client: Any, make: Any, db: Any) -> None:
    from sqlalchemy import select

    from kefu.followups.models import FollowUpRule
    from tests.web.test_admin_pages import _login

    brand = make.brand()
    lead = make.agent("supervisor", [brand])
    hdr = _login(client, lead)
    page = client.get(f"/admin?tab=followups&brand_id={brand.id}")
    assert page.status_code == 200 and "回訪規則" in page.text and "尚未設定回訪規則" in page.text
    form = {"brand_id": str(brand.id), "name": "帳號安全 7天3次", "category": "account_anomaly", "attempts": "3"}
    r = client.post("/admin/follow-up-rules", data={**form, "within_days": "7", "first_after_hours": "24"}, headers=hdr)
    assert r.status_code == 200 and "7 天內 3 次" in r.text, r.text[-500:]
    dup = client.post("/admin/follow-up-rules", data=form, headers=hdr)
    assert dup.status_code == 422
    rule = db.scalars(select(FollowUpRule).where(FollowUpRule.brand_id == brand.id)).one()
    assert (rule.attempts, rule.within_days, rule.category) == (3, 7, "account_anomaly")
    gone = client.post(f"/admin/follow-up-rules/{rule.id}/delete", headers=hdr)
    assert gone.status_code == 200 and "尚未設定回訪規則" in gone.text
    agent = make.agent("agent", [brand])
    client.cookies.clear()
    _login(client, agent)
    denied = client.get(f"/admin?tab=followups&brand_id={brand.id}")
    assert denied.status_code == 403 or 'id="fr-name"' not in denied.text  # agents do not configure rules
