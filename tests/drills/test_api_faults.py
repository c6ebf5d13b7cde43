"""Drills through `kefu serve` on the agent API's write path (ticket create): SIGKILL mid-create, the SQLite file
locked by another process, the disk filling up, PostgreSQL cut. A dependency that is down answers 503 problem+json
with Retry-After, never 500; every acknowledged create is there afterwards, whole (its audit entry, a valid chain),
and the server recovers by itself."""

from __future__ import annotations

import fcntl
import json
import resource
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from kefu.core.db import WRITE_WAIT_SECONDS
from tests.conftest import migrated_sqlite
from tests.drills._stack import CutProxy
from tests.drills.conftest import Load, Serve, drill_env, in_session, pg_database, seed, tail, wait_for


def _create(http: httpx.Client, base: str, brand_id: int, subject: str, description: str = "") -> httpx.Response:
    body = {"brand_id": brand_id, "subject": subject, "description": description}
    return http.post(f"{base}/api/v1/tickets", json=body)


def assert_unavailable(r: httpx.Response) -> None:
    """503 problem+json with a Retry-After the client can honour."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["status"] == 503


def assert_whole(db_url: str, brand_id: int, acked: dict[int, str]) -> dict[str, int]:
    """Every acknowledged ticket is present with its subject; every ticket of the brand has exactly one create
    audit entry; the audit chain verifies; SQLite's file passes its integrity check."""
    from sqlalchemy import func, select

    from kefu.audit.chain import verify_chain
    from kefu.audit.models import AuditLog
    from kefu.tickets.models import Ticket

    def check(s: Any) -> dict[str, int]:
        stored = dict(s.execute(select(Ticket.id, Ticket.subject).where(Ticket.brand_id == brand_id)).all())
        missing = {i: subj for i, subj in acked.items() if stored.get(i) != subj}
        assert not missing, f"{len(missing)} acknowledged creates lost: {list(missing.items())[:5]}"
        audits = dict(
            s.execute(
                select(AuditLog.target_id, func.count(AuditLog.id))
                .where(AuditLog.action == "ticket.create", AuditLog.brand_id == brand_id)
                .group_by(AuditLog.target_id)
            ).all()
        )
        half = [i for i in stored if audits.get(str(i)) != 1]
        assert not half, f"tickets without exactly one create audit entry: {half[:5]}"
        result = verify_chain(s)
        assert result.ok, result.problems
        if db_url.startswith("sqlite"):
            assert s.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        return {"acked": len(acked), "stored": len(stored)}

    return in_session(db_url, check)


def test_sigkill_mid_create_keeps_every_acknowledged_ticket(any_db: str, tmp_path: Path, servers: list[Serve]) -> None:
    s = seed(any_db, inbox_kind=None)
    env = drill_env(any_db, tmp_path, KEFU_SCHEDULER="false")
    workers = "2" if any_db.startswith("sqlite") else "1"  # SQLite: two processes meet on the writer file lock
    server = Serve(env, tmp_path / "serve1.log", "--workers", workers).start()
    servers.append(server)
    unexpected: list[str] = []

    def create(http: httpx.Client, worker: int, n: int) -> list[tuple[int, str]]:
        subject = f"W{worker}-{n}-{uuid.uuid4().hex[:6]} 訂單沒到"
        r = _create(http, server.base, s["brand_id"], subject, "描述" * 50)
        if r.status_code == 201:
            return [(int(r.json()["id"]), subject)]
        unexpected.append(f"{r.status_code} {r.text[:200]}")
        return []

    load = Load(create, 6, headers={"Authorization": f"Bearer {s['token']}"}).start()
    load.wait(60, 120, "acknowledged creates")
    server.kill()
    load.stop()
    assert not unexpected, unexpected[:5]
    acked = dict(load.acked)

    again = Serve(env, tmp_path / "serve2.log").start()  # recovery needs no manual step
    servers.append(again)
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {s['token']}"}) as http:
        r = _create(http, again.base, s["brand_id"], "after the crash")
        assert r.status_code == 201, r.text
        acked[int(r.json()["id"])] = "after the crash"
    print(json.dumps(assert_whole(any_db, s["brand_id"], acked)))


def test_sqlite_file_locked_by_another_process_answers_503_then_recovers(tmp_path: Path, servers: list[Serve]) -> None:
    path = tmp_path / "kefu.db"
    url = migrated_sqlite(path)
    s = seed(url, inbox_kind=None)
    server = Serve(drill_env(url, tmp_path, KEFU_SCHEDULER="false"), tmp_path / "serve.log").start()
    servers.append(server)
    acked: dict[int, str] = {}
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {s['token']}"}) as http:
        assert _create(http, server.base, s["brand_id"], "warm up").status_code == 201
        # Another program (the sqlite3 shell, a backup tool) holds the write lock and does not let go.
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.monotonic()
            assert_unavailable(_create(http, server.base, s["brand_id"], "while locked"))
            waited = time.monotonic() - t0
            r = http.get(f"{server.base}/api/v1/tickets?brand_id={s['brand_id']}")
            assert r.status_code == 200, r.text  # reads never wait for a writer
        finally:
            other.rollback()
        r = _create(http, server.base, s["brand_id"], "after the lock")
        assert r.status_code == 201, r.text  # no restart, no manual step
        acked[int(r.json()["id"])] = "after the lock"
        # A stuck kefu process: it holds the writers' file lock (kefu.core.db.WriterGate) inside its transaction.
        with open(f"{path}-writer", "a+b") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            other.execute("BEGIN IMMEDIATE")
            try:
                t0 = time.monotonic()
                assert_unavailable(_create(http, server.base, s["brand_id"], "while stuck"))
                stuck = time.monotonic() - t0
            finally:
                other.rollback()
                fcntl.flock(gate, fcntl.LOCK_UN)
        r = _create(http, server.base, s["brand_id"], "after the stuck writer")
        assert r.status_code == 201, r.text
        acked[int(r.json()["id"])] = "after the stuck writer"
        other.close()
    print(json.dumps({"locked_create_503_after_s": round(waited, 1), "stuck_writer_503_after_s": round(stuck, 1)}))
    # One budget (kefu.core.db.WRITE_WAIT_SECONDS) for the file lock and the busy handler together, not one each.
    assert WRITE_WAIT_SECONDS - 1 <= waited <= WRITE_WAIT_SECONDS + 3, waited
    assert WRITE_WAIT_SECONDS - 1 <= stuck <= WRITE_WAIT_SECONDS + 3, stuck
    assert_whole(url, s["brand_id"], acked)
    stored = _subjects(url, s["brand_id"])
    assert "while locked" not in stored and "while stuck" not in stored  # a 503 left nothing behind


def _subjects(db_url: str, brand_id: int) -> set[str]:
    from sqlalchemy import select

    from kefu.tickets.models import Ticket

    return in_session(db_url, lambda s: set(s.scalars(select(Ticket.subject).where(Ticket.brand_id == brand_id))))


def test_sqlite_disk_full_answers_503_and_loses_nothing(tmp_path: Path, servers: list[Serve]) -> None:
    """Writes beyond a file-size limit fail like a full disk (EFBIG; Python ignores SIGXFSZ) until it is raised."""
    path = tmp_path / "kefu.db"
    url = migrated_sqlite(path)
    s = seed(url, inbox_kind=None)
    limit = path.stat().st_size + 512 * 1024

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    server = Serve(drill_env(url, tmp_path, KEFU_SCHEDULER="false"), tmp_path / "serve.log").start(small_disk)
    servers.append(server)
    acked: dict[int, str] = {}
    statuses: list[int] = []
    big = "這是一段很長的描述。" * 2000  # ~60 KB: the database outgrows the limit within a few dozen creates
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {s['token']}"}) as http:
        for i in range(200):
            r = _create(http, server.base, s["brand_id"], f"full-{i}", big)
            statuses.append(r.status_code)
            if r.status_code == 201:
                acked[int(r.json()["id"])] = f"full-{i}"
                continue
            assert_unavailable(r)
            if statuses.count(503) >= 3:
                break
        assert 503 in statuses, f"the limit was never reached: {statuses}"
        r = http.get(f"{server.base}/api/v1/tickets?brand_id={s['brand_id']}&limit=5")
        assert r.status_code == 200, r.text  # reading goes on while the disk is full
        # Space is freed: the same process recovers by itself.
        assert server.proc is not None
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        for child in _children(server.proc.pid):
            resource.prlimit(child, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        def created() -> bool:
            r = _create(http, server.base, s["brand_id"], "after space was freed")
            if r.status_code == 201:
                acked[int(r.json()["id"])] = "after space was freed"
                return True
            assert_unavailable(r)
            return False

        try:
            wait_for(created, 30, "a create after space was freed", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail(tmp_path / 'serve.log')}") from None
    server.stop()
    print(json.dumps({"created_before_full": statuses.index(503), **assert_whole(url, s["brand_id"], acked)}))


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_postgres_cut_mid_load_answers_503_and_recovers(tmp_path: Path, servers: list[Serve]) -> None:
    """Every connection to PostgreSQL dies and new ones are refused for a while, during concurrent creates."""
    with pg_database() as real:
        s = seed(real, inbox_kind=None)
        host_port = real.split("@", 1)[1].split("/", 1)[0]
        proxy = CutProxy(int(host_port.rsplit(":", 1)[1]))
        via_proxy = real.replace(host_port, f"127.0.0.1:{proxy.port}")
        server = Serve(drill_env(via_proxy, tmp_path, KEFU_SCHEDULER="false"), tmp_path / "serve.log").start()
        servers.append(server)
        seen: dict[int, int] = {}
        lock = threading.Lock()

        def create(http: httpx.Client, worker: int, n: int) -> list[tuple[int, str]]:
            subject = f"P{worker}-{n}-{uuid.uuid4().hex[:6]}"
            r = _create(http, server.base, s["brand_id"], subject)
            with lock:
                seen[r.status_code] = seen.get(r.status_code, 0) + 1
            if r.status_code == 201:
                return [(int(r.json()["id"]), subject)]
            if r.status_code == 503:
                assert_unavailable(r)
                time.sleep(0.2)
            return []

        load = Load(create, 4, headers={"Authorization": f"Bearer {s['token']}"}).start()
        try:
            load.wait(20, 60, "creates before the cut")
            proxy.cut()
            time.sleep(3)
            proxy.heal()
            load.wait(len(load.acked) + 20, 60, "creates after the database came back")
        finally:
            load.stop()
            proxy.close()
        assert set(seen) <= {201, 503}, seen  # never a 500
        assert seen.get(503), seen
        print(json.dumps({"status_counts": seen, **assert_whole(real, s["brand_id"], dict(load.acked))}))
