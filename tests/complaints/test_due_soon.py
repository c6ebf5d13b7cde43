"""Due-soon warnings for complaint and regulator deadlines (#17): lead times per brand, once per deadline and lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select


def test_regulator_and_complaint_deadlines_warn_at_lead_times_once_and_show_in_the_console(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.complaints import due_soon
    from kefu.complaints.models import DeadlineWarning
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs
    from tests.web.test_admin_pages import _login

    load_jobs()
    brand = make.brand()
    admin = make.agent("admin")
    lead = make.agent("supervisor", [brand])
    h = make.token(admin)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    contacts = {"brand_id": brand.id, "contacts": [{"level": "team_lead", "agent_id": lead.id}]}
    assert client.put("/api/v1/sla/escalation-contacts", json=contacts, headers=h).status_code == 200
    # Lead times are validated brand settings.
    bad = {"settings": {"deadline_warnings": {"regulator": [-5]}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    bad = {"settings": {"deadline_warnings": {"reply": [0]}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    ok = {"settings": {"deadline_warnings": {"regulator": [4320, 1440, 0], "reply": [1440]}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=ok, headers=h).status_code == 200

    now = datetime.now(UTC)
    letter = {"brand_id": brand.id, "agency": "臺北市消保官", "subject": "消費爭議", "reference_no": "北市消字第7號"}
    # 15 calendar days: received 13 days ago → due in 2 days (inside the 3-day lead, not yet the 1-day one).
    r13 = client.post(
        "/api/v1/regulator-cases", json={**letter, "received_at": (now - timedelta(days=13)).isoformat()}, headers=h
    )
    # Received 16 days ago → past due: one overdue notice.
    r16 = client.post(
        "/api/v1/regulator-cases", json={**letter, "received_at": (now - timedelta(days=16)).isoformat()}, headers=h
    )
    fresh = client.post("/api/v1/regulator-cases", json={**letter, "received_at": now.isoformat()}, headers=h)
    assert r13.status_code == r16.status_code == fresh.status_code == 201, r13.text

    run_job("complaints.watch", {})
    run_job("complaints.watch", {})  # idempotent

    notes = client.get("/api/v1/notifications", headers=make.token(lead)).json()["items"]
    got = sorted(
        (n["kind"], n["data"]["subject_id"], n["data"]["lead_minutes"])
        for n in notes
        if n["kind"].startswith("deadline.")
    )
    assert got == sorted([("deadline.due_soon", r13.json()["id"], 4320), ("deadline.overdue", r16.json()["id"], 0)])
    rows = db.scalars(select(DeadlineWarning).where(DeadlineWarning.brand_id == brand.id)).all()
    # A letter already past due gets the overdue notice only, not stale "due in 3 days" ones.
    assert sorted((w.subject_id, w.lead_minutes) for w in rows) == sorted(
        [(r13.json()["id"], 4320), (r16.json()["id"], 0)]
    )

    # A day later the 1-day lead is reached for the first letter: one more notice, not a repeat of the 3-day one.
    due_soon.warn(db, now + timedelta(days=1, hours=1))
    db.commit()
    notes = client.get("/api/v1/notifications", headers=make.token(lead)).json()["items"]
    leads = sorted(n["data"]["lead_minutes"] for n in notes if n["data"].get("subject_id") == r13.json()["id"])
    assert leads == [1440, 4320]

    # The console lists what is due soon, soonest first, in the brand's timezone; other brands see nothing.
    listing = client.get("/api/v1/complaint-deadlines/due-soon", params={"brand_id": brand.id}, headers=h).json()
    ids = [(i["subject"], i["subject_id"]) for i in listing["items"]]
    assert ids == [("regulator", r16.json()["id"]), ("regulator", r13.json()["id"])]
    assert listing["items"][0]["minutes_left"] < 0 and listing["items"][0]["warned"]
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get("/api/v1/complaint-deadlines/due-soon", headers=other).json()["items"] == []

    client.headers.pop("Authorization", None)
    _login(client, admin)
    inbox = client.get("/console")
    assert (
        inbox.status_code == 200
        and 'href="/console/deadlines"' in inbox.text
        and 'href="/console/callbacks"' in inbox.text
    )
    page = client.get("/console/deadlines")
    assert page.status_code == 200, page.text
    assert "主管機關來函" in page.text and f"/console/tickets/{r13.json()['ticket_id']}" in page.text
    assert "台灣時間（UTC+8）" in page.text
    assert " 分鐘</td>" not in page.text and 'class="list"' in page.text  # time left as 2天23小時, not 4299 分鐘
