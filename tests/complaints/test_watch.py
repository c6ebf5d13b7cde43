"""Every complaint's acknowledgement and reply deadlines are watched (#17): notices, overdue list, on-time rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def test_missed_complaint_deadlines_notify_once_list_as_overdue_and_count_in_on_time_rates(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs

    load_jobs()
    brand = make.brand()
    admin = make.agent("admin")
    lead = make.agent("supervisor", [brand])
    h = make.token(admin)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    contacts = {"brand_id": brand.id, "contacts": [{"level": "team_lead", "agent_id": lead.id}]}
    assert client.put("/api/v1/sla/escalation-contacts", json=contacts, headers=h).status_code == 200
    now = datetime.now(UTC)
    base = {"brand_id": brand.id, "complainant_name": "陳先生", "channel": "email", "description": "商品瑕疵要求退費"}
    late = client.post(
        "/api/v1/complaints", json={**base, "received_at": (now - timedelta(days=12)).isoformat()}, headers=h
    )
    acked = client.post(
        "/api/v1/complaints", json={**base, "received_at": (now - timedelta(days=12)).isoformat()}, headers=h
    )
    fresh = client.post("/api/v1/complaints", json=base, headers=h)
    assert late.status_code == acked.status_code == fresh.status_code == 201, late.text
    on_time_ack = (datetime.fromisoformat(acked.json()["received_at"]) + timedelta(hours=1)).isoformat()
    r = client.post(
        f"/api/v1/complaints/{acked.json()['id']}/acknowledge", json={"message": "已受理", "at": on_time_ack}, headers=h
    )
    assert r.status_code == 200, r.text

    run_job("complaints.watch", {})
    run_job("complaints.watch", {})  # idempotent: a missed deadline notifies once

    lead_h = make.token(lead)
    notes = client.get("/api/v1/notifications", headers=lead_h).json()["items"]
    kinds = sorted(
        (n["data"]["complaint_id"], n["data"]["deadline"]) for n in notes if n["kind"] == "complaint.overdue"
    )
    assert kinds == sorted(
        [(late.json()["id"], "acknowledgement"), (late.json()["id"], "reply"), (acked.json()["id"], "reply")]
    )

    overdue = client.get("/api/v1/complaint-deadlines/overdue", params={"brand_id": brand.id}, headers=h).json()
    by_id = {i["id"]: i["overdue"] for i in overdue["items"]}
    assert by_id == {late.json()["id"]: ["acknowledgement", "reply"], acked.json()["id"]: ["reply"]}
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get("/api/v1/complaint-deadlines/overdue", headers=other).json()["items"] == []

    year = (now - timedelta(days=12)).year
    stats = client.get("/api/v1/complaint-deadlines/stats", params={"brand_id": brand.id, "year": year}, headers=h)
    assert stats.status_code == 200, stats.text
    total = stats.json()["total"]
    if year == now.year:
        assert total["received"] == 3
        assert total["acknowledgement"] == {"on_time": 1, "late": 0, "overdue_open": 1, "pending": 1}
        assert total["acknowledgement_on_time_rate"] == 0.5 and total["reply_on_time_rate"] == 0.0
