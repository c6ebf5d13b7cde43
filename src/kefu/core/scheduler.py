"""Periodic jobs with one leader across all processes (a lease row in the database).

Jobs are declared with `@periodic("name", every=seconds)` next to their `@job` handler; the leader inserts a job
row on cadence in the same transaction that records the cadence (so a crash never skips nor doubles a run), keyed
`periodic:<name>` so one periodic job never runs twice at once, and not again while the previous one is unfinished.
Any runner (`kefu serve` embedded, `kefu worker` in scale-out) runs it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.db import SessionFactory, session_scope, utcnow
from kefu.core.jobs import LIVE, Handler, JobQueue, enqueue, job
from kefu.core.models import Job, PeriodicRun, SchedulerLease
from kefu.core.retry import LoopOutage

log = logging.getLogger("kefu.scheduler")
LEASE = "scheduler"


@dataclass(frozen=True)
class Periodic:
    """A job enqueued every `every` seconds with a fixed payload."""

    name: str
    every: float
    payload: dict[str, Any]


_periodic: dict[str, Periodic] = {}


def periodic(name: str, every: float, payload: dict[str, Any] | None = None) -> Callable[[Handler], Handler]:
    """Register a handler as job `name` and schedule it every `every` seconds."""

    def deco(fn: Handler) -> Handler:
        job(name)(fn)
        _periodic[name] = Periodic(name, every, dict(payload or {}))
        return fn

    return deco


def periodic_jobs() -> dict[str, Periodic]:
    """Registered periodic jobs."""
    return dict(_periodic)


def try_lead(session: Session, holder: str, ttl: float, name: str = LEASE) -> bool:
    """Take or renew the lease; True when `holder` leads until now+ttl."""
    now = utcnow()
    until = now + timedelta(seconds=ttl)
    res = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=until)
    )
    if res.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(SchedulerLease, name) is None:
        try:
            with session.begin_nested():
                session.execute(insert(SchedulerLease).values(name=name, holder=holder, expires_at=until))
            return True
        except IntegrityError:  # another process inserted first
            return False
    return False


def release(session: Session, holder: str, name: str = LEASE) -> None:
    """Give up the lease so a standby takes over at once."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )


def key_of(name: str) -> str:
    """The job key of a periodic job (one run at a time)."""
    return f"periodic:{name}"


def due(session: Session, jobs: dict[str, Periodic]) -> list[Periodic]:
    """Periodic jobs whose interval has elapsed: marks them and inserts their job rows (skipping unfinished ones)."""
    now = utcnow()
    last = {r.name: r.last_enqueued_at for r in session.scalars(select(PeriodicRun))}
    out: list[Periodic] = []
    for p in jobs.values():
        prev = last.get(p.name)
        if prev is not None and prev > now:
            # The clock went back (an NTP step): the last run was just before the jump. Start the interval again from
            # now; waiting for `now - prev` to turn positive stalled every periodic job for the size of the jump.
            session.execute(update(PeriodicRun).where(PeriodicRun.name == p.name).values(last_enqueued_at=now))
            continue
        if prev is None or (now - prev).total_seconds() >= p.every:
            busy = session.scalar(select(exists().where(Job.key == key_of(p.name), Job.status.in_(LIVE))))
            if not busy:
                out.append(p)
                enqueue(session, p.name, p.payload, key=key_of(p.name))
            if prev is None:
                session.add(PeriodicRun(name=p.name, last_enqueued_at=now))
            else:
                session.execute(update(PeriodicRun).where(PeriodicRun.name == p.name).values(last_enqueued_at=now))
    session.flush()
    return out


class Scheduler:
    """Background thread: keep the lease, enqueue due periodic jobs while leading."""

    def __init__(
        self,
        factory: SessionFactory,
        queue: Callable[[], JobQueue] | None = None,
        *,
        tick: float = 1.0,
        ttl: float = 15.0,
        holder: str | None = None,
    ) -> None:
        self.factory = factory
        self.queue = queue
        self.tick = tick
        self.ttl = ttl
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[str]:
        """One tick: renew/take the lease and insert the due job rows; returns their names (runners wake on commit)."""
        with session_scope(self.factory) as session:
            self.leading = try_lead(session, self.holder, self.ttl)
            if not self.leading:
                return []
            items = due(session, periodic_jobs())
        return [p.name for p in items]

    def start(self) -> None:
        """Run ticks on a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="kefu-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop ticking and hand the lease over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.leading:
            try:
                with session_scope(self.factory) as session:
                    release(session, self.holder)
            except Exception:
                log.exception("could not release scheduler lease")
            self.leading = False

    def _loop(self) -> None:
        outage = LoopOutage(log, "scheduler tick")
        while not self._stop.is_set():
            wait = self.tick
            try:
                names = self.run_once()
                outage.ok()
                if names:
                    log.debug("enqueued periodic jobs: %s", names)
            except Exception as exc:  # keep ticking through database hiccups
                wait = outage.failed(exc, self.tick)
                self.leading = False
            self._stop.wait(wait)
