"""Operators see dead-lettered jobs and failed inbound events (API, console page) and re-drive them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def _dead_job(db: Any, name: str = "test.ops_dead") -> Any:
    from kefu.core.db import utcnow
    from kefu.core.models import Job

    row = Job(name=name, payload={"x": 1}, status="dead", attempts=12, max_attempts=12, run_at=utcnow(), last_error="E")
    db.add(row)
    db.commit()
    return row


def _failed_event(db: Any, make: Any) -> Any:
    from kefu.brands.service import create_inbox
    from kefu.channels.types import EventType, InboundMessage

    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    msg = InboundMessage(
        channel="line", provider_message_id="OPS-1", sender_external_id="Uops", text="hi", event_type=EventType.MESSAGE
    )
    from kefu.channels.service import record_inbound

    (event,) = record_inbound(db, inbox, [msg], process=False)
    event.status, event.attempts, event.last_error = "failed", 20, "OSError(28, 'No space left on device')"
    db.commit()
    return event


def test_api_lists_and_retries_dead_jobs(client: Any, db: Any, make: Any) -> None:
    row = _dead_job(db)
    admin = make.token(make.agent("admin"))
    counts = client.get("/api/v1/ops/jobs/counts", headers=admin).json()
    assert counts["dead"] >= 1
    listed = client.get("/api/v1/ops/jobs", headers=admin).json()
    assert [j["id"] for j in listed if j["name"] == "test.ops_dead"] == [row.id]
    r = client.post(f"/api/v1/ops/jobs/{row.id}/retry", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
    assert client.post(f"/api/v1/ops/jobs/{row.id}/retry", headers=admin).status_code == 409


def test_only_administrators_of_every_brand_operate_jobs(client: Any, db: Any, make: Any) -> None:
    brand = make.brand()
    for agent in (make.agent("agent", [brand]), make.agent("supervisor", [brand])):
        assert client.get("/api/v1/ops/jobs", headers=make.token(agent)).status_code == 403


def test_api_requeues_a_failed_inbound_event(client: Any, db: Any, make: Any, jobs: Any) -> None:
    from kefu.channels.models import InboundEvent
    from kefu.conversations.models import Message

    event = _failed_event(db, make)
    admin = make.token(make.agent("admin"))
    listed = client.get("/api/v1/ops/inbound-events", headers=admin).json()
    assert any(e["id"] == event.id and e["status"] == "failed" for e in listed)
    r = client.post(f"/api/v1/ops/inbound-events/{event.id}/requeue", headers=admin)
    assert r.status_code == 200
    db.refresh(event)
    assert db.get(InboundEvent, event.id).status == "processed"  # the requeued job ran after the commit
    assert db.scalars(select(Message).where(Message.provider_message_id == "OPS-1")).one().body == "hi"


def test_console_page_shows_and_retries(client: Any, db: Any, make: Any) -> None:
    row = _dead_job(db, "test.ops_page")
    agent = make.agent("admin")
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    headers = {"X-CSRF-Token": r.json()["csrf_token"]}
    page = client.get("/ops/jobs?lang=en")
    assert page.status_code == 200 and "Dead-lettered jobs" in page.text and "test.ops_page" in page.text
    assert "後台" not in client.get("/ops/jobs?lang=zh-TW").text and "背景工作" in client.get("/ops/jobs").text
    assert client.post(f"/ops/jobs/retry?job_id={row.id}", headers=headers, follow_redirects=False).status_code == 303
    db.refresh(row)
    assert row.status == "pending"
