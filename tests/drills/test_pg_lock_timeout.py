"""Drill: on PostgreSQL a request blocked on a lock another session holds (the audit chain head, a ticket row)
answers 503 + Retry-After problem+json after the write-wait budget (KEFU_DB_WRITE_WAIT_SECONDS), never hangs, and
leaves nothing behind; the next request succeeds once the lock is gone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import psycopg

from tests.drills.conftest import Serve, drill_env, pg_database, seed
from tests.drills.test_api_faults import _subjects, assert_unavailable

BUDGET = 2.0
SLACK = 3.0  # a loaded 2-core machine: the request's own work and the HTTP round trip on top of the lock wait


def _create(http: httpx.Client, base: str, brand_id: int, subject: str) -> httpx.Response:
    return http.post(f"{base}/api/v1/tickets", json={"brand_id": brand_id, "subject": subject})


def test_postgres_lock_held_elsewhere_answers_503_within_the_budget(tmp_path: Path, servers: list[Serve]) -> None:
    with pg_database() as url:
        s = seed(url, inbox_kind=None)
        env = drill_env(url, tmp_path, KEFU_SCHEDULER="false", KEFU_DB_WRITE_WAIT_SECONDS=str(BUDGET))
        server = Serve(env, tmp_path / "serve.log").start()
        servers.append(server)
        timings: dict[str, float] = {}
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {s['token']}"}) as http:
            r = _create(http, server.base, s["brand_id"], "warm up")
            assert r.status_code == 201, r.text
            ticket_id = int(r.json()["id"])
            with psycopg.connect(url) as other:  # another session inside an open transaction
                other.execute("SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE")
                t0 = time.monotonic()
                assert_unavailable(_create(http, server.base, s["brand_id"], "while the chain head is locked"))
                timings["chain_head"] = time.monotonic() - t0
                other.rollback()
                other.execute("SELECT id FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
                t0 = time.monotonic()
                r = http.patch(f"{server.base}/api/v1/tickets/{ticket_id}", json={"subject": "while the row is locked"})
                timings["ticket_row"] = time.monotonic() - t0
                assert_unavailable(r)
                other.rollback()
            r = _create(http, server.base, s["brand_id"], "after the lock")
            assert r.status_code == 201, r.text  # no restart, no manual step
            r = http.get(f"{server.base}/api/v1/tickets/{ticket_id}")
            assert r.status_code == 200 and r.json()["subject"] == "warm up", r.text
        print(json.dumps({k: round(v, 2) for k, v in timings.items()}))
        for what, waited in timings.items():
            assert BUDGET - 0.5 <= waited <= BUDGET + SLACK, (what, waited)
        stored = _subjects(url, s["brand_id"])
        assert stored == {"warm up", "after the lock"}, stored  # a 503 left no row behind


def test_lock_and_statement_timeouts_answer_503_through_the_unknown_error_path() -> None:
    """55P03 and 57014, wrapped by SQLAlchemy or raw from the driver, are the one rule's 503 + Retry-After."""
    from sqlalchemy import text

    from kefu.core.db import make_engine, transient_db_error
    from kefu.web.problems import server_error

    with pg_database() as url:
        engine = make_engine(url, write_wait=0.3)
        errors: list[BaseException] = []
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SHOW lock_timeout")).scalar() == "300ms"  # set at connect: no statement
            with psycopg.connect(url) as holder:
                holder.execute("SELECT pg_advisory_lock(77)")
                try:
                    with engine.begin() as conn:
                        conn.execute(text("SELECT pg_advisory_xact_lock(77)"))
                except Exception as exc:
                    errors.append(exc)
            try:
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL statement_timeout = 50"))
                    conn.execute(text("SELECT pg_sleep(2)"))
            except Exception as exc:
                errors.append(exc)
            with psycopg.connect(url) as raw:
                try:
                    raw.execute("SET statement_timeout = 50")
                    raw.execute("SELECT pg_sleep(2)")
                except psycopg.Error as exc:
                    errors.append(RuntimeError("wrapped elsewhere"))
                    errors[-1].__cause__ = exc
        finally:
            engine.dispose()
    states = [getattr(e, "orig", None) or e.__cause__ for e in errors]
    assert [getattr(s, "sqlstate", None) for s in states] == ["55P03", "57014", "57014"], errors
    for exc in errors:
        assert transient_db_error(exc), exc
        response = server_error(exc, "/api/v1/tickets")
        assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert not transient_db_error(ValueError("no")) and server_error(ValueError("no"), "/x").status_code == 500


def test_every_database_connection_comes_from_make_engine() -> None:
    """Structural: kefu.core.db.make_engine is the one place connections get the wait budget (lock_timeout on
    PostgreSQL, busy timeout and writer turn on SQLite); a new engine or raw driver connection elsewhere in src/
    would wait forever on a lock."""
    import re

    root = Path(__file__).resolve().parents[2] / "src" / "kefu"
    pattern = re.compile(r"\bcreate_engine\(|\bpsycopg2?\.connect\(|\bsqlite3\.connect\(|\basyncpg\.connect\(")
    found = [
        f"{p.relative_to(root)}:{n}"
        for p in root.rglob("*.py")
        if p.relative_to(root).as_posix() != "core/db.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], found
