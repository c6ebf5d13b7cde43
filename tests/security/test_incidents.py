"""Security incident register: levels, deadlines, workflow, statistics, permissions, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def test_incident_lifecycle_deadlines_and_stats(client: Any, make: Any) -> None:
    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    auditor = make.token(make.agent("auditor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    now = datetime.now(UTC)
    detected = (now - timedelta(hours=3)).isoformat()
    body = {
        "title": "疑似帳號遭盜用",
        "level": 3,
        "brand_id": brand.id,
        "detected_at": detected,
        "affected_records": 12,
    }
    assert client.post("/api/v1/security/incidents", json=body, headers=agent).status_code == 403
    assert client.post("/api/v1/security/incidents", json=body, headers=auditor).status_code == 403
    r = client.post("/api/v1/security/incidents", json=body, headers=sup)
    assert r.status_code == 201, r.text
    inc = r.json()
    det = datetime.fromisoformat(inc["detected_at"])
    assert datetime.fromisoformat(inc["report_due_at"]) - det == timedelta(hours=1)
    assert datetime.fromisoformat(inc["form_due_at"]) - det == timedelta(hours=48)
    assert inc["review_required"] and inc["status"] == "open"
    lvl1 = client.post(
        "/api/v1/security/incidents", json={"title": "釣魚信", "level": 1, "brand_id": brand.id}, headers=sup
    ).json()
    base = f"/api/v1/security/incidents/{inc['id']}"
    # Reported 2 hours after detection: late. The level-1 one is reported on time.
    late = (now - timedelta(hours=1)).isoformat()
    assert client.post(f"{base}/report", json={"at": late}, headers=sup).status_code == 200
    assert client.post(f"{base}/report", json={}, headers=sup).status_code == 409
    client.post(f"/api/v1/security/incidents/{lvl1['id']}/report", json={}, headers=sup)
    assert client.post(f"{base}/status", json={"status": "closed"}, headers=sup).status_code == 409
    for status in ("investigating", "contained", "resolved"):
        assert client.post(f"{base}/status", json={"status": status}, headers=sup).json()["status"] == status
    assert client.post(f"{base}/status", json={"status": "closed"}, headers=sup).status_code == 409  # no form yet
    client.post(f"{base}/form", json={}, headers=sup)
    assert client.post(f"{base}/status", json={"status": "closed"}, headers=sup).status_code == 409  # no review
    client.patch(base, json={"review_notes": "重設密碼並加強 MFA"}, headers=sup)
    assert client.post(f"{base}/status", json={"status": "closed"}, headers=sup).json()["status"] == "closed"
    assert client.patch(base, json={"title": "x"}, headers=sup).status_code == 409
    stats = client.get("/api/v1/security/incidents/stats", headers=auditor).json()
    assert stats["by_level"] == {"1": 1, "2": 0, "3": 1, "4": 0}
    assert stats["report_on_time_pct"] == 50.0 and stats["form_on_time_pct"] == 100.0
    assert stats["by_status"]["closed"] == 1 and stats["overdue_report_ids"] == []
    other = make.token(make.agent("supervisor", [make.brand()]))
    assert client.get(base, headers=other).status_code == 404
    assert client.post("/api/v1/security/incidents", json={"title": "x", "level": 2}, headers=sup).status_code == 403
    assert client.post("/api/v1/security/incidents", json={"title": "x", "level": 5}, headers=sup).status_code == 422
    admin = make.token(make.agent("admin"))
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=admin, params={"limit": 200}).json()["items"]]
    assert {"security.incident.create", "security.incident.report", "security.incident.status"} <= set(actions)


def test_overdue_incident_counts_as_late(client: Any, make: Any) -> None:
    admin = make.token(make.agent("admin"))
    detected = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    inc = client.post(
        "/api/v1/security/incidents", json={"title": "DDoS", "level": 4, "detected_at": detected}, headers=admin
    ).json()
    stats = client.get("/api/v1/security/incidents/stats", headers=admin).json()
    assert inc["id"] in stats["overdue_report_ids"] and inc["id"] not in stats["overdue_form_ids"]
    assert stats["report_on_time_pct"] == 0.0


def test_an_incidents_owner_works_in_its_brand(client: Any, make: Any) -> None:
    """Owner ids name agents of the incident's brand (or admins): another brand's agent is the same 422 as no agent,
    on create and on update; an install-wide incident may name anyone."""
    a, b = make.brand(), make.brand()
    sup = make.token(make.agent("supervisor", [a]))
    colleague, outsider, admin = make.agent("auditor", [a]), make.agent("agent", [b]), make.agent("admin")
    body = {"title": "外洩", "level": 1, "brand_id": a.id}
    url = "/api/v1/security/incidents"
    for owner in (outsider.id, 987654):
        r = client.post(url, json={**body, "owner_id": owner}, headers=sup)
        assert r.status_code == 422, (owner, r.text)
    inc = client.post(url, json={**body, "owner_id": colleague.id}, headers=sup).json()
    assert inc["owner_id"] == colleague.id
    assert client.patch(f"{url}/{inc['id']}", json={"owner_id": outsider.id}, headers=sup).status_code == 422
    assert client.patch(f"{url}/{inc['id']}", json={"owner_id": admin.id}, headers=sup).status_code == 200
    install = {"title": "DDoS", "level": 1, "owner_id": outsider.id}
    assert client.post(url, json=install, headers=make.token(admin)).status_code == 201
