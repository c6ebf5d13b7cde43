"""A write request's unit of work through HTTP (kefu.auth.deps.commit_in_one_hop): when the commit fails, the
client gets 503 + Retry-After, nothing of the request is stored, and no event or job escapes the rollback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from tests.tickets.helpers import admin_principal


def _die_at_commit(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    # The audit entries are the last statement, inserted by the commit's flush (on PostgreSQL inside the head
    # advance's WITH): the database goes away there.
    if "INSERT INTO AUDIT_LOG" in statement.upper():
        raise OperationalError(statement, {}, ConnectionError("server closed the connection unexpectedly"))


def test_a_commit_that_fails_answers_503_and_leaves_nothing(
    client: Any, make: Any, db: Any, engine: Any, events: list[Any]
) -> None:
    from kefu.audit.models import AuditLog
    from kefu.core.models import Job
    from kefu.tickets.models import Ticket

    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    assert client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "warm"}, headers=h).status_code == 201
    tickets = db.scalar(select(func.count(Ticket.id)))
    audits, jobs = db.scalar(select(func.count(AuditLog.id))), db.scalar(select(func.count(Job.id)))
    events.clear()

    event.listen(engine, "before_cursor_execute", _die_at_commit)
    try:
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "lost"}, headers=h)
    finally:
        event.remove(engine, "before_cursor_execute", _die_at_commit)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] and r.headers["content-type"].startswith("application/problem+json")
    assert events == []  # nothing announced for a transaction that never committed
    db.expire_all()
    assert db.scalar(select(func.count(Ticket.id))) == tickets
    assert db.scalar(select(func.count(AuditLog.id))) == audits
    assert db.scalar(select(func.count(Job.id))) == jobs
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "again"}, headers=h)
    assert r.status_code == 201, r.text  # the same process carries on
    assert [e.type for e in events].count("ticket.created") == 1


def test_a_failed_commit_wakes_no_job(
    client: Any, make: Any, db: Any, engine: Any, jobs: Any, events: list[Any]
) -> None:
    """Closing a team member's ticket asks routing to hand out the team's queue (a job): not when the commit fails."""
    from kefu.auth.service import create_team, set_team_members
    from kefu.core.models import Job
    from kefu.routing.service import set_team_routing
    from kefu.tickets.models import Ticket

    brand = make.brand()
    admin = make.agent("admin", [brand])
    agent = make.agent("agent", [brand])
    h = make.token(admin)
    principal = admin_principal(admin)
    team = create_team(db, brand_id=brand.id, slug="t", name="t", description="", actor=principal)
    set_team_members(db, team, [(agent.id, False)], principal)
    set_team_routing(db, team.id, principal, strategy="least_loaded", auto_assign=True)
    db.commit()
    body = {"brand_id": brand.id, "subject": "queued", "team_id": team.id, "assignee_id": agent.id}
    r = client.post("/api/v1/tickets", json=body, headers=h)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    woken: list[str] = []
    real_wake = jobs.wake
    jobs.wake = lambda name, payload: woken.append(name) or real_wake(name, payload)
    before = db.scalar(select(func.count(Job.id)))
    events.clear()
    event.listen(engine, "before_cursor_execute", _die_at_commit)
    try:
        r = client.patch(f"/api/v1/tickets/{tid}", json={"status": "resolved"}, headers=h)
    finally:
        event.remove(engine, "before_cursor_execute", _die_at_commit)
    assert r.status_code == 503, r.text
    assert woken == [] and events == []
    db.expire_all()
    assert db.scalar(select(func.count(Job.id))) == before
    assert db.get(Ticket, tid).status != "resolved"
    r = client.patch(f"/api/v1/tickets/{tid}", json={"status": "resolved"}, headers=h)
    assert r.status_code == 200, r.text
    assert woken == ["routing.dispatch"]  # the same change, committed, does wake it
