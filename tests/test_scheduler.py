"""Leader-elected periodic jobs: one leader at a time, takeover after expiry, cadence survives failover."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from kefu.core.scheduler import Scheduler, periodic, periodic_jobs, try_lead


def job_names(factory: Any) -> list[str]:
    """Names of the job rows the scheduler inserted."""
    from sqlalchemy import select

    from kefu.core.models import Job

    with factory() as s:
        return list(s.scalars(select(Job.name).order_by(Job.id)))


def finish(factory: Any, name: str) -> None:
    """A runner finished the job (its row is deleted)."""
    from sqlalchemy import delete

    from kefu.core.models import Job

    with factory() as s:
        s.execute(delete(Job).where(Job.name == name))
        s.commit()


def test_lease_has_one_holder_and_expires(db: Any) -> None:
    assert try_lead(db, "a", ttl=30)
    assert not try_lead(db, "b", ttl=30)
    assert try_lead(db, "a", ttl=30)  # renewal
    from kefu.core.models import SchedulerLease

    db.get(SchedulerLease, "scheduler").expires_at -= timedelta(seconds=60)
    db.flush()
    assert try_lead(db, "b", ttl=30)
    assert not try_lead(db, "a", ttl=30)


def test_only_the_leader_enqueues_and_a_standby_takes_over(session_factory: Any) -> None:
    @periodic("test.tick", every=3600)
    def tick(payload: dict[str, Any]) -> None:
        del payload

    assert "test.tick" in periodic_jobs()
    a = Scheduler(session_factory, holder="a", ttl=30)
    b = Scheduler(session_factory, holder="b", ttl=30)
    assert "test.tick" in a.run_once()
    assert b.run_once() == [] and not b.leading
    assert a.run_once() == []  # not due again for an hour
    a.stop()  # hands the lease over
    assert b.run_once() == [] and b.leading  # leads now, and keeps the cadence (not re-enqueued)
    assert job_names(session_factory).count("test.tick") == 1


def test_scheduler_thread_runs_due_jobs(session_factory: Any) -> None:
    @periodic("test.fast", every=0.05)
    def fast(payload: dict[str, Any]) -> None:
        del payload

    # The thread shares the test's connection, so the database is read only while it is stopped.
    s = Scheduler(session_factory, tick=0.05, holder="solo")
    s.start()
    time.sleep(0.5)  # several ticks: the unfinished run is not enqueued again
    s.stop()
    assert job_names(session_factory).count("test.fast") == 1
    finish(session_factory, "test.fast")
    s.start()
    time.sleep(0.5)
    s.stop()
    assert job_names(session_factory).count("test.fast") == 1


def test_every_module_schedule_is_wired() -> None:
    from kefu.registry import load_jobs

    load_jobs()
    names = set(periodic_jobs())
    assert {
        "sla.sweep",
        "routing.dispatch_all",
        "tickets.auto_close",
        "surveys.send_csat",
        "qa.daily_sample",
        "analytics.check_alerts",
        "analytics.rollup",
        "channels.sweep",
    } <= names


def test_the_clock_going_back_neither_stalls_nor_repeats_a_periodic_job(session_factory: Any, monkeypatch: Any) -> None:
    """NTP steps the clock back 10 minutes right after a run: before, `now - last` stayed negative and a job due every
    minute (SLA sweeps, due outbox) did not run for 11 minutes; it must run one interval after the jump, once."""
    import kefu.core.scheduler as scheduler
    from kefu.core.db import utcnow

    @periodic("test.minutely", every=60)
    def minutely(payload: dict[str, Any]) -> None:
        del payload

    clock = [utcnow()]
    monkeypatch.setattr(scheduler, "utcnow", lambda: clock[0])
    monkeypatch.setattr(scheduler, "periodic_jobs", lambda: {"test.minutely": periodic_jobs()["test.minutely"]})
    a = Scheduler(session_factory, holder="a", ttl=30)
    assert a.run_once() == ["test.minutely"]
    finish(session_factory, "test.minutely")
    clock[0] -= timedelta(minutes=10)  # the step back
    assert a.run_once() == []  # it ran a moment ago (before the jump): not again now
    clock[0] += timedelta(seconds=30)
    assert a.run_once() == []
    clock[0] += timedelta(seconds=31)  # one interval after the jump, not ten minutes later
    assert a.run_once() == ["test.minutely"]
    finish(session_factory, "test.minutely")
    clock[0] += timedelta(seconds=1)
    assert a.run_once() == []
