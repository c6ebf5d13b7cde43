"""The durable job runner on a real, committed database: exactly once, one at a time per key and in order,
retried with backoff, dead-lettered after its attempts, taken over after a lease expires."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import PG_URL, drop_pg_database, migrated_pg, migrated_sqlite

RUNS: list[tuple[str, int, float, float]] = []
FLAKY: dict[int, int] = {}
LOCKED: list[int] = []
LOCK_ERRORS: list[Exception] = []
LOCK = threading.Lock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from kefu.core.db import Database
    from kefu.core.jobs import job

    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL (KEFU_TEST_DATABASE_URL) not configured")
        url = migrated_pg(PG_URL)
    else:
        url = migrated_sqlite(tmp_path / "jobs.db")
    monkeypatch.setenv("KEFU_JOBS_BASE_DELAY_SECONDS", "0.05")
    monkeypatch.setenv("KEFU_JOBS_MAX_DELAY_SECONDS", "0.1")
    monkeypatch.setenv("KEFU_JOBS_MAX_ATTEMPTS", "3")

    @job("test.keyed")
    def keyed(payload: dict[str, Any]) -> None:
        start = time.monotonic()
        time.sleep(0.01)
        with LOCK:
            RUNS.append((str(payload["key"]), int(payload["seq"]), start, time.monotonic()))

    @job("test.flaky")
    def flaky(payload: dict[str, Any]) -> None:
        with LOCK:
            FLAKY[payload["n"]] = FLAKY.get(payload["n"], 0) + 1
            if FLAKY[payload["n"]] < 3:
                raise RuntimeError("transient")

    @job("test.always_fails")
    def always_fails(payload: dict[str, Any]) -> None:
        raise ValueError("permanent")

    @job("test.lock_waits")
    def lock_waits(payload: dict[str, Any]) -> None:
        with LOCK:
            LOCKED.append(1)
            if len(LOCKED) <= payload["times"]:
                raise LOCK_ERRORS[0]

    RUNS.clear()
    FLAKY.clear()
    LOCKED.clear()
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        if request.param == "postgresql":
            drop_pg_database(PG_URL or "", url)


class NoWake:
    """Runners poll (the wake-up path is covered by the drills)."""

    def wake(self, name: str, payload: dict[str, Any]) -> None:
        """Nothing."""

    def start(self) -> None:
        """Nothing."""

    def stop(self) -> None:
        """Nothing."""


def test_two_runners_run_each_job_once_one_at_a_time_per_key_in_order(database: Any) -> None:
    from kefu.core.jobs import JobRunner, counts, enqueue, list_jobs, queue_installed
    from kefu.core.models import Job

    with queue_installed(NoWake()):
        with database.session() as s:
            for seq in range(8):
                for key in ("a", "b", "c"):
                    enqueue(s, "test.keyed", {"key": key, "seq": seq}, key=f"conv:{key}")
            enqueue(s, "test.flaky", {"n": 1})
            enqueue(s, "test.always_fails", {})
        runners = [JobRunner(database.sessionmaker, concurrency=3, poll=0.05) for _ in range(2)]
        for r in runners:
            r.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.session() as s:
                c = counts(s)
            if c["pending"] == 0 and c["running"] == 0:
                break
            time.sleep(0.1)
        for r in runners:
            r.stop()
    assert len(RUNS) == 24
    for key in ("a", "b", "c"):
        mine = [r for r in RUNS if r[0] == key]
        assert [r[1] for r in mine] == list(range(8)), "in enqueue order"
        assert all(prev[3] <= nxt[2] for prev, nxt in itertools.pairwise(mine)), "never two at once"
    assert FLAKY == {1: 3}
    with database.session() as s:
        dead = list_jobs(s, "dead")
        assert [(j.name, j.attempts) for j in dead] == [("test.always_fails", 3)]
        assert "permanent" in (dead[0].last_error or "")
        assert s.scalars(select(Job.name).where(Job.status != "dead")).all() == []


def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_finish_it(database: Any) -> None:
    from kefu.core.jobs import claim, complete, enqueue, queue_installed, run_due
    from kefu.core.models import Job

    with queue_installed(NoWake()):
        with database.session() as s:
            enqueue(s, "test.keyed", {"key": "z", "seq": 0}, key="conv:z")
        with database.session() as s:
            (first,) = claim(s, "dead-runner")
        with database.session() as s:
            assert claim(s, "other") == []  # leased
            row = s.get(Job, first.id)
            row.lease_until = row.lease_until.replace(year=2000)  # the runner died long ago
        assert run_due(database.sessionmaker, "other") == 1
        with database.session() as s:
            complete(s, first)  # the dead runner's late outcome changes nothing
            assert s.scalar(select(Job.id)) is None
    assert [r[:2] for r in RUNS] == [("z", 0)]


def _lock_timeout(url: str) -> Exception:
    """A real lock-wait error of the backend: SQLite "database is locked", PostgreSQL 55P03 (lock_timeout)."""
    import sqlite3

    import psycopg

    from kefu.core.db import make_engine

    engine = make_engine(url, write_wait=0.2)
    try:
        if url.startswith("sqlite"):
            other = sqlite3.connect(url.split("///", 1)[1], timeout=0, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            hold = other.rollback
        else:
            pg = psycopg.connect(url)
            pg.execute("SELECT pg_advisory_lock(4242)")
            hold = pg.close
        try:
            with engine.begin() as conn:
                if url.startswith("sqlite"):
                    conn.exec_driver_sql("DELETE FROM jobs WHERE id = -1")
                else:
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
        except Exception as exc:
            return exc
        finally:
            hold()
    finally:
        engine.dispose()
    raise AssertionError("the lock wait did not time out")


def test_a_lock_timeout_is_retried_without_using_up_attempts(database: Any) -> None:
    from kefu.core.db import transient_db_error
    from kefu.core.jobs import enqueue, queue_installed, run_due
    from kefu.core.models import Job

    LOCK_ERRORS[:] = [_lock_timeout(database.url)]
    assert transient_db_error(LOCK_ERRORS[0]), LOCK_ERRORS[0]
    with queue_installed(NoWake()):
        with database.session() as s:
            enqueue(s, "test.lock_waits", {"times": 4})  # more lock timeouts in a row than its 3 attempts
        deadline = time.monotonic() + 30
        while len(LOCKED) < 5 and time.monotonic() < deadline:
            run_due(database.sessionmaker, "inline")
            time.sleep(0.05)
    assert len(LOCKED) == 5
    with database.session() as s:
        assert s.scalars(select(Job.status)).all() == []  # done, never dead-lettered


def test_transient_retries_wait_longer_each_time_up_to_the_cap_without_using_attempts(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long outage: each lock timeout in a row waits about twice the last (jittered), never over the cap, and the
    job outlives its 3 attempts (12 failures, none counted, never dead-lettered)."""
    from datetime import timedelta

    from kefu.core.db import utcnow
    from kefu.core.jobs import claim, enqueue, queue_installed, run_claimed
    from kefu.core.models import Job

    monkeypatch.setenv("KEFU_JOBS_BASE_DELAY_SECONDS", "1")
    monkeypatch.setenv("KEFU_JOBS_MAX_DELAY_SECONDS", "300")
    LOCK_ERRORS[:] = [_lock_timeout(database.url)]
    delays: list[float] = []

    def run_once() -> tuple[str, Job]:
        with database.session() as s:
            s.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))  # the backoff has elapsed
        with database.session() as s:
            (claimed,) = claim(s, "inline")
        before = utcnow()
        status = run_claimed(database.sessionmaker, claimed)
        with database.session() as s:
            row = s.scalars(select(Job)).one()
            s.expunge(row)
        delays.append((row.run_at - before).total_seconds())
        return status, row

    with queue_installed(NoWake()):
        with database.session() as s:
            enqueue(s, "test.lock_waits", {"times": 12})
        for n in range(1, 13):
            status, row = run_once()
            assert status == "pending" and row.status == "pending"
            assert row.attempts == 0 and row.transient_failures == n
    ceilings = [min(300.0, 2.0**i) for i in range(12)]  # 1, 2, 4, … 256, then the 300 s cap
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 - 1 <= delay <= ceiling + 1, (delays, ceilings)
    assert max(delays) <= 301 and delays[-1] >= 149, delays
    assert len(LOCKED) == 12


def test_a_transient_failure_past_the_streak_limit_uses_attempts_and_ends_dead_lettered(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock timeout that never ends is the job's own: past TRANSIENT_STREAK_LIMIT in a row each one uses an
    attempt, so the job is dead-lettered (visible, retryable) instead of retried forever."""
    from datetime import timedelta

    from kefu.core import retry
    from kefu.core.db import utcnow
    from kefu.core.jobs import claim, enqueue, queue_installed, run_claimed
    from kefu.core.models import Job

    monkeypatch.setenv("KEFU_JOBS_BASE_DELAY_SECONDS", "1")
    monkeypatch.setenv("KEFU_JOBS_MAX_ATTEMPTS", "2")
    monkeypatch.setattr(retry, "TRANSIENT_STREAK_LIMIT", 3)
    LOCK_ERRORS[:] = [_lock_timeout(database.url)]
    seen: list[tuple[str, int, int]] = []
    with queue_installed(NoWake()):
        with database.session() as s:
            enqueue(s, "test.lock_waits", {"times": 20})
        for _ in range(4):
            with database.session() as s:
                s.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
            with database.session() as s:
                (claimed,) = claim(s, "inline")
            status = run_claimed(database.sessionmaker, claimed)
            with database.session() as s:
                row = s.scalars(select(Job)).one()
                seen.append((status, row.attempts, row.transient_failures))
            if status == "dead":
                break
    # Two free transient failures, the third (at the limit) uses attempt 1, the fourth uses the last: dead.
    assert seen == [("pending", 0, 1), ("pending", 0, 2), ("pending", 1, 3), ("dead", 2, 4)]
    with database.session() as s:
        assert s.scalars(select(Job.status)).one() == "dead"


def test_an_idle_runner_on_sqlite_polls_without_taking_the_write_turn(tmp_path: Any) -> None:
    """Polls that find nothing due read in a deferred transaction (no WriterGate turn); a due job is still claimed."""
    from kefu.core import runtime
    from kefu.core.db import DATABASE, Database, writer_gate
    from kefu.core.jobs import JobRunner, enqueue, job, queue_installed

    ran: list[int] = []

    @job("test.idle_probe")
    def probe(payload: dict[str, Any]) -> None:
        ran.append(int(payload["n"]))

    url = migrated_sqlite(tmp_path / "idle.db")
    database = Database(url)
    gate = writer_gate(database.engine)
    assert gate is not None
    try:
        with runtime.override(DATABASE, database), queue_installed(NoWake()):
            runner = JobRunner(concurrency=2, poll=0.02)  # no factory: the process database, as `kefu serve` runs it
            turns = gate.acquired
            runner.start()
            try:
                time.sleep(0.5)  # about 50 polls
                assert gate.acquired == turns, "an idle poll took the SQLite write turn"
                with database.session() as s:
                    enqueue(s, "test.idle_probe", {"n": 1})
                deadline = time.monotonic() + 20
                while not ran and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                runner.stop()
        assert ran == [1]
    finally:
        database.dispose()


def test_a_missing_table_is_not_a_transient_error(tmp_path: Any) -> None:
    """SQLite reports a missing table as an OperationalError too; it is a bug, not contention: jobs dead-letter it
    after their attempts and requests answer 500, while "database is locked" stays transient."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from kefu.core.db import make_engine, transient_db_error

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table")
    except OperationalError as exc:
        assert not transient_db_error(exc), exc
    else:
        raise AssertionError("expected an OperationalError")
    finally:
        engine.dispose()
    assert transient_db_error(OperationalError("x", {}, sqlite3.OperationalError("database is locked")))


@pytest.mark.skipif(not PG_URL, reason="needs KEFU_TEST_DATABASE_URL (PostgreSQL)")
def test_a_program_limit_is_not_a_transient_error() -> None:
    """psycopg maps SQLSTATE class 54 (program limit exceeded: too many columns, an index row too large) to an
    OperationalError as it does lock timeouts; the same statement fails every time, so a job must dead-letter it
    after its attempts instead of being retried forever."""
    from sqlalchemy.exc import OperationalError

    from kefu.core.db import make_engine, transient_db_error

    assert PG_URL
    engine = make_engine(PG_URL, pool=False)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT " + ", ".join(["1"] * 1700))  # 54011: at most 1664 target-list entries
    except OperationalError as exc:
        assert getattr(exc.orig, "sqlstate", None) == "54011", exc
        assert not transient_db_error(exc), exc
    else:
        raise AssertionError("expected an OperationalError")
    finally:
        engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs KEFU_TEST_DATABASE_URL (PostgreSQL)")
def test_the_lock_timeout_keeps_the_urls_own_server_options() -> None:
    """A database URL may set server options itself (libpq's `options`, e.g. a search_path or a statement_timeout):
    the write-wait lock_timeout is added to them, not put in their place."""
    from kefu.core.db import make_engine

    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    engine = make_engine(f"{PG_URL}{sep}options=-c%20statement_timeout%3D4321", pool=False, write_wait=2.5)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "2500ms"
    finally:
        engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs KEFU_TEST_DATABASE_URL (PostgreSQL)")
def test_migrations_wait_for_a_lock_the_configured_write_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kefu db upgrade` (Alembic's own engine) waits for a lock KEFU_DB_WRITE_WAIT_SECONDS, like the app's
    connections, not the built-in 15 s: an operator who lowers (or raises) the budget gets it for migrations too."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from kefu.core.config import get_settings
    from kefu.core.migrate import upgrade

    assert PG_URL
    url = migrated_pg(PG_URL)
    try:
        monkeypatch.setenv("KEFU_DB_WRITE_WAIT_SECONDS", "1")
        get_settings.cache_clear()
        with psycopg.connect(url) as other:  # another session holds the table the upgrade reads first
            other.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(OperationalError) as failed:
                upgrade(url)
            waited = time.monotonic() - started
        assert getattr(failed.value.orig, "sqlstate", None) == "55P03", failed.value
        assert waited < 8, waited
    finally:
        get_settings.cache_clear()
        drop_pg_database(PG_URL, url)


def test_the_idle_poll_answers_what_a_claim_would_find(database: Any) -> None:
    """`any_due` (one prebuilt statement, run on read sessions) agrees with claim() on every kind of row."""
    from datetime import timedelta

    from kefu.core.db import utcnow
    from kefu.core.jobs import any_due, claim, enqueue, queue_installed
    from kefu.core.models import Job

    def poll() -> bool:
        with database.read_sessionmaker() as s:
            return any_due(s)

    with queue_installed(NoWake()):
        assert not poll()  # empty table
        with database.session() as s:
            enqueue(s, "test.keyed", {"key": "a", "seq": 0}, key="k", delay=3600)  # not due yet
        assert not poll()
        with database.session() as s:  # due, but behind the older live job of its key
            enqueue(s, "test.keyed", {"key": "a", "seq": 1}, key="k")
        assert not poll()
        with database.session() as s:
            s.execute(update(Job).where(Job.key == "k").values(run_at=utcnow() - timedelta(seconds=1)))
        assert poll()  # the oldest of the key is due now
        with database.session() as s:
            taken = claim(s, "t", 10)
        assert [c.payload["seq"] for c in taken] == [0]
        assert not poll()  # running under a live lease, and the next of its key waits behind it
        with database.session() as s:
            s.execute(update(Job).where(Job.status == "running").values(lease_until=utcnow() - timedelta(seconds=1)))
        assert poll()  # an expired lease may be taken over
        with database.session() as s:
            assert [c.payload["seq"] for c in claim(s, "t2", 10)] == [0]
