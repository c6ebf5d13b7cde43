"""Durable background jobs: a row in `jobs` inserted in the caller's transaction, run by a DB-claiming runner.

The database row is the truth (a transactional outbox for work): `enqueue()` inserts it with the work that causes it,
so a rolled-back request leaves no job and a committed one cannot lose it, whatever process dies afterwards.
Runners (`kefu serve` in embedded mode, `kefu worker` in scale-out mode) claim due rows — `FOR UPDATE SKIP LOCKED`
on PostgreSQL, SQLite's single writer elsewhere — under a lease that a heartbeat renews, delete them when the
handler returns and otherwise retry with exponential backoff and full jitter, then dead-letter them (`status =
'dead'`, listed by `kefu jobs list` and the jobs API, re-driven by `kefu jobs retry`). Jobs that share a `key` run one
at a time, oldest first, so one conversation's bot turns never race each other. Redis pub/sub (scale-out) or a
threading.Event (embedded) only wakes runners early; without it they poll.

Hand-written rather than a library: taskiq/arq/rq/celery keep the job in the broker, so the job would not commit
with the data, and none claims per key. The queue is one table and three statements.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from kefu.core import runtime
from kefu.core.config import Settings, get_settings
from kefu.core.db import SessionFactory, after_commit, run_prebuilt, session_scope, transient_db_error, utcnow
from kefu.core.models import Job
from kefu.core.retry import backoff, transient_backoff, uses_attempt

log = logging.getLogger("kefu.jobs")

Handler = Callable[[dict[str, Any]], None]
_registry: dict[str, Handler] = {}
LIVE = ("pending", "running")


def max_attempts() -> int:
    """Attempts before a job is dead-lettered (KEFU_JOBS_MAX_ATTEMPTS, default 12: about an hour of backoff)."""
    return get_settings().jobs_max_attempts


def lease_seconds() -> float:
    """How long a claim holds without a heartbeat before another runner may take the job over."""
    return get_settings().jobs_lease_seconds


def backoff_seconds(attempt: int) -> float:
    """Delay after failed attempt `attempt`: jittered base * 2^(attempt-1), capped (KEFU_JOBS_*_DELAY_SECONDS)."""
    settings = get_settings()
    return backoff(attempt, base=settings.jobs_base_delay_seconds, cap=settings.jobs_max_delay_seconds)


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of job `name` (it must be idempotent: jobs run at least once)."""

    def deco(fn: Handler) -> Handler:
        _registry[name] = fn
        return fn

    return deco


def registered_jobs() -> dict[str, Handler]:
    """A copy of the handler registry."""
    return dict(_registry)


def run_job(name: str, payload: dict[str, Any]) -> None:
    """Execute one job by name (raises if unknown or if the handler fails)."""
    handler = _registry.get(name)
    if handler is None:
        raise LookupError(f"unknown job {name!r}")
    handler(payload)


@dataclass(frozen=True)
class Running:
    """The job this thread is running (handlers may read it, e.g. to log the attempt)."""

    id: int
    name: str
    attempt: int


current_job: contextvars.ContextVar[Running | None] = contextvars.ContextVar("kefu_current_job", default=None)


# ---------------------------------------------------------------- enqueue: a row in the caller's transaction


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    delay: float = 0.0,
    priority: int = 100,
) -> Job:
    """Insert job `name` in the session's transaction; runners are woken once it commits (nothing on rollback).

    `key`: jobs sharing it run one at a time, oldest first. `priority`: lower runs first among due jobs.
    """
    row = Job(
        name=name,
        payload=payload,
        key=key[:200] if key else None,
        status="pending",
        priority=priority,
        attempts=0,
        max_attempts=max_attempts(),
        run_at=utcnow() + timedelta(seconds=delay),
    )
    session.add(row)
    if delay <= 0:  # a delayed job is found by the runners' polls when it falls due
        after_commit(session, lambda: get_queue().wake(name, payload))
    return row


# ---------------------------------------------------------------- claim, complete, fail


@dataclass(frozen=True)
class Claimed:
    """A job claimed by a runner under `token` until its lease expires."""

    id: int
    name: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    token: str
    transient_failures: int = 0


def _due(now: Any) -> tuple[Any, Any]:
    """What a runner may claim: pending and due, or running with an expired lease; the oldest of a key only."""
    older = aliased(Job)
    blocked = exists().where(older.key == Job.key, older.id < Job.id, older.status.in_(LIVE))
    return (
        or_((Job.status == "pending") & (Job.run_at <= now), (Job.status == "running") & (Job.lease_until <= now)),
        Job.key.is_(None) | ~blocked,
    )


# Built once: every idle runner asks this once a second, and building it (an alias, the statement, its cache key)
# cost several times the query's own work (~1.4 ms of CPU per poll on a loaded box, issue #21 part 6).
_NOW = bindparam("now", type_=Job.__table__.c.run_at.type)
_ANY_DUE = select(Job.id).where(*_due(_NOW)).limit(1)


def any_due(session: Session) -> bool:
    """Whether claim() would find a job now (a plain read: no row lock, no write)."""
    rows, _count = run_prebuilt(session.connection(), _ANY_DUE, {"now": utcnow()})
    return bool(rows)


def claim(session: Session, runner: str, limit: int = 1) -> list[Claimed]:
    """Claim up to `limit` due jobs (pending and due, or running with an expired lease); the oldest of a key only."""
    now = utcnow()
    stmt = (
        select(Job)
        .where(*_due(now))
        .order_by(Job.priority, Job.run_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Job)
    )
    out: list[Claimed] = []
    lease = timedelta(seconds=lease_seconds())
    for row in session.scalars(stmt):
        token = f"{runner}:{uuid.uuid4().hex[:12]}"
        row.status, row.claimed_by, row.lease_until = "running", token, now + lease
        row.attempts += 1
        payload = dict(row.payload or {})
        out.append(
            Claimed(row.id, row.name, payload, row.attempts, row.max_attempts, token, row.transient_failures or 0)
        )
    session.flush()
    return out


def complete(session: Session, claimed: Claimed) -> None:
    """The handler returned: the job is done (deleted; a lost claim means another runner owns it now)."""
    session.execute(delete(Job).where(Job.id == claimed.id, Job.claimed_by == claimed.token))


def _dead(claimed: Claimed, transient: bool) -> bool:
    """Whether this failure dead-letters the job: its last attempt used (transient ones use none until the limit)."""
    streak = claimed.transient_failures + 1 if transient else 0
    return claimed.attempt >= claimed.max_attempts and uses_attempt(transient, streak)


def fail(session: Session, claimed: Claimed, error: str, *, transient: bool = False) -> str:
    """The handler raised: schedule a retry with backoff, or dead-letter it; returns the new status.

    A transient database error (kefu.core.db.transient_db_error: unreachable, a lock or statement timeout) is the
    database's state, not the job's fault: it is retried without using up an attempt, so contention never
    dead-letters work. Its wait grows with the transient failures in a row (the same jittered doubling, capped at
    KEFU_JOBS_MAX_DELAY_SECONDS), so a long outage is not hammered at the rate of the attempt it interrupted.
    """
    dead = _dead(claimed, transient)
    values: dict[str, Any] = {"status": "dead" if dead else "pending", "last_error": error[:4000]}
    values.update(claimed_by=None, lease_until=None)
    if transient:
        streak = claimed.transient_failures + 1
        used = uses_attempt(True, streak)  # past kefu.core.retry.TRANSIENT_STREAK_LIMIT it is the job's own failure
        values.update(attempts=claimed.attempt - (0 if used else 1), transient_failures=streak)
        settings = get_settings()
        base, cap = settings.jobs_base_delay_seconds, settings.jobs_max_delay_seconds
        delay = transient_backoff(claimed.attempt - 1, streak, base=base, cap=cap)
    else:
        values["transient_failures"] = 0
        delay = backoff_seconds(claimed.attempt)
    if not dead:
        values["run_at"] = utcnow() + timedelta(seconds=delay)
    session.execute(update(Job).where(Job.id == claimed.id, Job.claimed_by == claimed.token).values(**values))
    return str(values["status"])


def renew(session: Session, tokens: list[str]) -> None:
    """Extend the leases of jobs still running under these claims (heartbeat)."""
    if tokens:
        until = utcnow() + timedelta(seconds=lease_seconds())
        session.execute(
            update(Job).where(Job.claimed_by.in_(tokens), Job.status == "running").values(lease_until=until)
        )


def run_claimed(factory: SessionFactory, claimed: Claimed) -> str:
    """Run a claimed job and record the outcome ("done", "pending" for a retry, or "dead")."""
    marker = current_job.set(Running(claimed.id, claimed.name, claimed.attempt))
    try:
        run_job(claimed.name, claimed.payload)
    except Exception as exc:
        transient = transient_db_error(exc)
        status = "dead" if _dead(claimed, transient) else "pending"
        log.log(
            logging.ERROR if status == "dead" else logging.WARNING,
            "job %s #%s attempt %d/%d failed: %r%s",
            claimed.name,
            claimed.id,
            claimed.attempt,
            claimed.max_attempts,
            exc,
            " (dead-lettered)" if status == "dead" else "",
        )
        error = f"{type(exc).__name__}: {exc}"
        _record(factory, lambda s: fail(s, claimed, error, transient=transient))
        return status
    finally:
        current_job.reset(marker)
    _record(factory, lambda s: complete(s, claimed))
    return "done"


def _record(factory: SessionFactory, write: Callable[[Session], Any], tries: int = 5) -> None:
    # The database may be briefly down right after the handler ran; if it stays down, the lease expires and the
    # (idempotent) job runs again rather than being lost.
    for attempt in range(tries):
        try:
            with session_scope(factory) as session:
                write(session)
            return
        except Exception as exc:
            log.warning("could not record a job outcome (%r); attempt %d", exc, attempt + 1)
            time.sleep(min(0.2 * 2**attempt, 2.0))


def run_due(factory: SessionFactory, runner: str = "inline", limit: int = 100) -> int:
    """Claim and run due jobs one at a time until none is due (tests, `kefu jobs run`); returns how many ran."""
    ran = 0
    while ran < limit:
        with session_scope(factory) as session:
            claimed = claim(session, runner, 1)
        if not claimed:
            return ran
        run_claimed(factory, claimed[0])
        ran += 1
    return ran


# ---------------------------------------------------------------- operator views: list, retry


def list_jobs(session: Session, status: str | None = "dead", limit: int = 100) -> list[Job]:
    """Jobs by status, newest first (dead letters by default)."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    return list(session.scalars(stmt))


def counts(session: Session) -> dict[str, int]:
    """How many jobs are pending, running and dead (health, dashboards)."""
    from sqlalchemy import func

    rows = session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status)).all()
    return {"pending": 0, "running": 0, "dead": 0, **{str(s): int(n) for s, n in rows}}


def retry(session: Session, job_id: int | None = None) -> int:
    """Give dead-lettered jobs (one, or all when job_id is None) a fresh set of attempts; returns how many."""
    stmt = update(Job).where(Job.status == "dead")
    if job_id is not None:
        stmt = stmt.where(Job.id == job_id)
    res = session.execute(
        stmt.values(status="pending", attempts=0, transient_failures=0, run_at=utcnow(), last_error=None)
    )
    n = int(res.rowcount)  # type: ignore[attr-defined]
    if n:
        after_commit(session, lambda: get_queue().wake("", {}))
    return n


# ---------------------------------------------------------------- runners and wake-ups


class JobQueue(Protocol):
    """The process's link to the job table: wakes runners and, where configured, runs them."""

    def wake(self, name: str, payload: dict[str, Any]) -> None:
        """A job was committed: let a runner look now instead of at its next poll."""

    def start(self) -> None:
        """Begin running jobs, if this process runs them."""

    def stop(self) -> None:
        """Stop running jobs."""


def _read(factory: SessionFactory, query: Callable[[Session], bool]) -> bool:
    with session_scope(factory) as session:
        return query(session)


class JobRunner:
    """Threads that claim and run due jobs; a heartbeat renews their leases; a wake-up cuts the poll short."""

    def __init__(
        self,
        factory: SessionFactory | None = None,
        *,
        concurrency: int = 2,
        poll: float | None = None,
        redis_url: str | None = None,
        prefix: str = "kefu",
    ) -> None:
        self._factory = factory
        self.concurrency = concurrency
        self.poll = poll if poll is not None else get_settings().jobs_poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.redis_url = redis_url
        self.channel = f"{prefix}:jobs:wake"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self.ran = 0

    @property
    def factory(self) -> SessionFactory:
        """Sessions for claims and outcomes (the process database unless given)."""
        if self._factory is None:
            from kefu.core.db import get_database

            self._factory = get_database().sessionmaker
        return self._factory

    def wake(self, name: str = "", payload: dict[str, Any] | None = None) -> None:
        """Cut the idle wait short."""
        self._wake.set()

    def start(self) -> None:
        """Start the worker, heartbeat and (with Redis) wake-up listener threads."""
        if self._threads:
            return
        self._stop.clear()
        targets: list[tuple[str, Callable[[], None]]] = [(f"kefu-job-{i}", self._work) for i in range(self.concurrency)]
        targets.append(("kefu-job-heartbeat", self._heartbeat))
        if self.redis_url:
            targets.append(("kefu-job-wake", self._listen))
        for name, target in targets:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the jobs in hand (bounded), then stop; unfinished ones are re-run after their lease."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(deadline - time.monotonic(), 0.1))
        self._threads = []

    def _idle_reads(self) -> SessionFactory | None:
        """On SQLite, the process database's read sessions: a poll that finds nothing due then takes no write turn.

        A claim is a write transaction, and on SQLite each one waits for and holds the single write turn
        (kefu.core.db.WriterGate): idle polls were a third to two thirds of all write turns under load, each able to
        hold a request's write up (docs/DEVELOPING.md, "SQLite tail latency"). On PostgreSQL the claim's
        SKIP LOCKED select is the cheap check already, so a read first would only add a round trip.
        """
        if self._factory is not None:
            return None  # a caller's own sessions (tests): claim directly
        from kefu.core.db import get_database

        database = get_database()
        return database.read_sessionmaker if database.engine.dialect.name == "sqlite" else None

    def _work(self) -> None:
        backoff = 0.2
        reads = self._idle_reads()
        while not self._stop.is_set():
            try:
                claimed = []
                if reads is None or _read(reads, any_due):
                    with session_scope(self.factory) as session:
                        claimed = claim(session, self.name, 1)
                backoff = 0.2
            except Exception as exc:  # database down: keep trying, never exit
                log.warning("job claim failed (%r); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not claimed:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            job_ = claimed[0]
            with self._lock:
                self._tokens.add(job_.token)
            try:
                run_claimed(self.factory, job_)
                self.ran += 1
            finally:
                with self._lock:
                    self._tokens.discard(job_.token)

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(lease_seconds() / 3, 0.2)):
            with self._lock:
                tokens = list(self._tokens)
            if not tokens:
                continue
            try:
                with session_scope(self.factory) as session:
                    renew(session, tokens)
            except Exception as exc:
                log.warning("job lease renewal failed: %r", exc)

    def _listen(self) -> None:
        import redis

        backoff = 0.2
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url or "", socket_connect_timeout=2, health_check_interval=10)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
                pubsub.subscribe(self.channel)
                backoff = 0.2
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=0.5):
                        self._wake.set()
                pubsub.close()
                client.close()
            except Exception as exc:  # Redis down: polling still finds every job
                log.debug("job wake-up listener: %r", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


class RedisWaker:
    """Scale-out producers: PUBLISH a wake-up to `kefu worker` processes (best effort; workers also poll)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.channel = f"{prefix}:jobs:wake"
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._down_until = 0.0

    def wake(self, name: str = "", payload: dict[str, Any] | None = None) -> None:
        """Publish, unless Redis failed in the last few seconds (requests must not wait on a dead Redis)."""
        if time.monotonic() < self._down_until:
            return
        try:
            self._redis.publish(self.channel, name)
        except Exception as exc:
            log.warning("job wake-up not published (%r); workers will find the job by polling", exc)
            self._down_until = time.monotonic() + 5.0

    def start(self) -> None:
        """Producers run nothing locally."""

    def stop(self) -> None:
        """Close the connection pool."""
        self._redis.close()


class MemoryJobQueue:
    """Test double: runs each committed job's handler inline in the committing thread (tests share one connection).

    The job row stays in the test transaction; the real runner is exercised by tests/jobs and tests/drills.
    """

    def __init__(self, max_attempts: int = 5, base_delay: float = 0.0, inline: bool = True) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.inline = inline
        self.failed: list[tuple[str, dict[str, Any], str]] = []
        self.ran: list[str] = []

    def wake(self, name: str, payload: dict[str, Any]) -> None:
        """Run the job now, retrying like the runner would (without the waits)."""
        if not name:
            return
        last: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                run_job(name, payload)
                self.ran.append(name)
                return
            except Exception as exc:
                log.warning("job %s failed (attempt %d): %s", name, attempt, exc)
                last = exc
                if self.base_delay:
                    time.sleep(self.base_delay)
        self.failed.append((name, payload, repr(last)))

    def enqueue(self, name: str, payload: dict[str, Any]) -> None:
        """Run a job directly, without a row (tests of handlers)."""
        self.wake(name, payload)

    def drain(self, timeout: float = 10.0) -> bool:
        """Inline jobs are finished when enqueue returns."""
        return True

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


class LocalJobs:
    """Embedded mode: this process runs the job table itself (started by `kefu serve`)."""

    def __init__(self, concurrency: int = 2) -> None:
        self.runner = JobRunner(concurrency=concurrency)

    def wake(self, name: str, payload: dict[str, Any]) -> None:
        """Wake the local runner."""
        self.runner.wake(name, payload)

    def start(self) -> None:
        """Start the local runner."""
        self.runner.start()

    def stop(self) -> None:
        """Stop the local runner."""
        self.runner.stop()


def run_worker_blocking(settings: Settings, concurrency: int = 4, stop: threading.Event | None = None) -> None:
    """`kefu worker`: run the job table until `stop` is set (SIGTERM/SIGINT)."""
    import signal

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner = JobRunner(concurrency=concurrency, redis_url=settings.redis_url, prefix=settings.redis_prefix)
    runner.start()
    try:
        stop.wait()
    finally:
        runner.stop()


def make_queue(settings: Settings) -> JobQueue:
    """Embedded: this process runs jobs; scale-out (Redis): `kefu worker` runs them and Redis only wakes it."""
    if settings.effective_jobs_backend == "redis":
        if not settings.redis_url:
            raise ValueError("KEFU_JOBS_BACKEND=redis needs KEFU_REDIS_URL")
        return RedisWaker(settings.redis_url, settings.redis_prefix)
    return LocalJobs(concurrency=settings.jobs_concurrency)


QUEUE: runtime.Slot[JobQueue] = runtime.Slot("job queue", make_queue)


def get_queue() -> JobQueue:
    """The process's job queue (the wired one, else the configured backend built on first use)."""
    return runtime.get(QUEUE)


@contextmanager
def queue_installed(q: JobQueue) -> Iterator[JobQueue]:
    """Temporarily install a queue (tests, benchmarks)."""
    with runtime.override(QUEUE, q):
        yield q
