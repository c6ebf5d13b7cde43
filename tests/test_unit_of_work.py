"""A write request's unit of work through HTTP (kefu.auth.deps.commit_in_one_hop): when the commit fails, the
client gets 503 + Retry-After, nothing of the request is stored, and no event or job escapes the rollback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError


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

    def die_at_commit(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The audit entries are the last statement, inserted by the commit's flush: the database goes away there.
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise OperationalError(statement, {}, ConnectionError("server closed the connection unexpectedly"))

    event.listen(engine, "before_cursor_execute", die_at_commit)
    try:
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "lost"}, headers=h)
    finally:
        event.remove(engine, "before_cursor_execute", die_at_commit)
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
