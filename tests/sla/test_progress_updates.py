"""Progress-update clock (#17, seed 003 「進度同步 每30分鐘」): urgent and complaint cases, lapses measured once."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import Clock, tw


def test_urgent_and_complaint_cases_lapse_once_per_interval_notify_and_are_reported(
    client: Any, make: Any, db: Any, clock: Clock, count_queries: Any
) -> None:
    from sqlalchemy import select

    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs
    from kefu.sla import updates
    from kefu.sla.models import ProgressLapse

    load_jobs()
    brand = make.brand()
    admin = make.agent("admin")
    agent = make.agent("agent", [brand])
    lead = make.agent("supervisor", [brand])
    h = make.token(admin)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    contacts = {"brand_id": brand.id, "contacts": [{"level": "team_lead", "agent_id": lead.id}]}
    assert client.put("/api/v1/sla/escalation-contacts", json=contacts, headers=h).status_code == 200
    start = clock.set(tw(2026, 3, 2, 9, 0))

    def ticket(**kw: Any) -> dict[str, Any]:
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "付款被扣款兩次", **kw}, headers=h)
        assert r.status_code == 201, r.text
        return dict(r.json())

    urgent = ticket(priority="urgent", assignee_id=agent.id)
    normal = ticket(priority="normal")
    pending = ticket(priority="urgent")
    assert client.patch(f"/api/v1/tickets/{pending['id']}", json={"status": "pending"}, headers=h).is_success

    clock.advance(minutes=29)
    assert updates.sweep(db, clock()).lapsed == 0
    clock.advance(minutes=2)
    run_job("sla.progress_updates", {})  # the real job, on the patched clock
    run_job("sla.progress_updates", {})  # once per interval
    db.expire_all()
    lapses = db.scalars(select(ProgressLapse).where(ProgressLapse.brand_id == brand.id)).all()
    assert [(lp.ticket_id, lp.interval_minutes) for lp in lapses] == [(urgent["id"], 30)]
    for who in (agent, lead):
        notes = client.get("/api/v1/notifications", headers=make.token(who)).json()["items"]
        assert [n["data"]["ticket_id"] for n in notes if n["kind"] == "progress.overdue"] == [urgent["id"]]
    assert normal["id"] not in {lp.ticket_id for lp in lapses}

    listing = client.get("/api/v1/progress-updates/overdue", params={"brand_id": brand.id}, headers=h).json()
    assert [(i["ticket_id"], i["overdue_minutes"]) for i in listing["items"]] == [(urgent["id"], 1)]

    # The agent posts a public update 10 minutes late: the lapse ends, the next interval starts from it.
    clock.advance(minutes=9)
    r = client.post(
        f"/api/v1/tickets/{urgent['id']}/activities", json={"body": "財務組正在核對扣款", "public": True}, headers=h
    )
    assert r.status_code == 201, r.text
    clock.advance(minutes=5)
    with count_queries() as q:
        result = updates.sweep(db, clock())
    db.commit()
    assert (result.ended, result.lapsed) == (1, 0)
    assert q.count <= 12, q.statements  # a fixed number of queries, not one per case
    clock.advance(minutes=30)  # 35 minutes after the update: the second interval is missed
    assert updates.sweep(db, clock()).lapsed == 1
    db.commit()
    assert client.patch(f"/api/v1/tickets/{urgent['id']}", json={"status": "resolved"}, headers=h).is_success
    assert updates.sweep(db, clock()).ended == 1
    db.commit()

    # Complaints are in scope whatever their priority; a brand can change the interval (validated).
    bad = client.patch(
        f"/api/v1/brands/{brand.id}", json={"settings": {"progress_updates": {"every_minutes": 1}}}, headers=h
    )
    assert bad.status_code == 422
    conf = {"settings": {"progress_updates": {"every_minutes": 60}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=conf, headers=h).is_success
    complaint = ticket(priority="low", category="complaint")
    clock.advance(minutes=45)
    assert updates.sweep(db, clock()).lapsed == 0
    clock.advance(minutes=20)
    assert updates.sweep(db, clock()).lapsed == 1
    db.commit()

    stats = client.get(
        "/api/v1/progress-updates/stats",
        params={"brand_id": brand.id, "start": start.isoformat(), "end": clock().isoformat()},
        headers=h,
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert (body["lapses"], body["cases"], body["still_open"]) == (3, 2, 1)
    # Late: 10 min (updated), 5 min (ended by resolution), 5 min (complaint, still open).
    assert (body["max_minutes_late"], body["avg_minutes_late"]) == (10, 6.7)
    assert body["by_assignee"][str(agent.id)] == 2
    assert complaint["id"] in {
        i["ticket_id"] for i in client.get("/api/v1/progress-updates/overdue", headers=h).json()["items"]
    }
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get("/api/v1/progress-updates/overdue", headers=other).json()["items"] == []
    assert client.get(
        "/api/v1/progress-updates/stats",
        params={"brand_id": brand.id, "start": start.isoformat(), "end": clock().isoformat()},
        headers=other,
    ).status_code in (403, 404)


def test_the_case_page_shows_when_the_next_progress_update_is_due_and_when_it_is_late(
    client: Any, make: Any, db: Any, clock: Clock, monkeypatch: Any
) -> None:
    """#4 on the agent's path: the 30-minute clock is on the case page, late in red; normal cases show none."""
    from kefu.tickets import listing
    from tests.web.test_admin_pages import _login

    monkeypatch.setattr(listing, "utcnow", clock)  # the case page's "now"

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    agent = make.agent("agent", [brand])
    h = make.token(admin)
    clock.set(tw(2026, 3, 2, 9, 0))
    r = client.post(
        "/api/v1/tickets",
        json={"brand_id": brand.id, "subject": "付款失敗", "priority": "urgent", "assignee_id": agent.id},
        headers=h,
    )
    urgent = r.json()["id"]
    normal = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "發票", "priority": "normal"}, headers=h
    ).json()["id"]
    client.headers.pop("Authorization", None)
    _login(client, agent)
    clock.advance(minutes=10)

    def clock_line(ticket_id: int, lang: str = "zh-TW") -> str:
        page = client.get(f"/console/tickets/{ticket_id}?lang={lang}")
        assert page.status_code == 200
        return page.text.split('class="progress-clock"')[1].split("</p>")[0] if "progress-clock" in page.text else ""

    line = clock_line(urgent)
    assert "進度更新（每 30 分鐘）" in line and "sla-ok" in line and "9:30" in line
    assert "Progress update (every 30 min)" in clock_line(urgent, "en")
    assert "进度更新（每 30 分钟）" in clock_line(urgent, "zh-CN")
    assert clock_line(normal) == ""  # outside the clock by default
    clock.advance(minutes=25)  # 09:35: five minutes late
    assert "sla-b" in clock_line(urgent)
    # A public update restarts the clock from it.
    r = client.post(f"/api/v1/tickets/{urgent}/activities", json={"body": "財務組核對中", "public": True}, headers=h)
    assert r.status_code == 201, r.text
    line = clock_line(urgent)
    assert "sla-ok" in line and "10:05" in line
    # The brand's interval (admin → Brands, or the API) is what the page counts with.
    r = client.patch(
        f"/api/v1/brands/{brand.id}", json={"settings": {"progress_updates": {"every_minutes": 60}}}, headers=h
    )
    assert r.is_success
    line = clock_line(urgent)
    assert "每 60 分鐘" in line and "10:35" in line
