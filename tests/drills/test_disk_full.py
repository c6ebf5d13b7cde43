"""Drill: the data dir is full (OSError 28 at the storage layer) while attachments arrive; after space is freed,
every acknowledged event becomes exactly one message with its file — retried with backoff, never a 45 s cliff."""

from __future__ import annotations

import errno
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kefu.channels.types import Attachment, EventType, InboundMessage


class NoWake:
    """Jobs are left to the database runner (run_due), as in production."""

    def wake(self, name: str, payload: dict[str, Any]) -> None:
        """Nothing: run_due claims the rows."""

    def start(self) -> None:
        """Nothing."""

    def stop(self) -> None:
        """Nothing."""


def _msg(n: int) -> InboundMessage:
    return InboundMessage(
        channel="line",
        provider_message_id=f"DF-{n}",
        sender_external_id=f"Udisk{n % 2}",
        sender_name="Disk",
        text="",
        attachments=(Attachment(filename=f"photo{n}.jpg", content_type="image/jpeg", size=3, data=b"\xff\xd8\xff"),),
        event_type=EventType.MESSAGE,
    )


def _due_now(db: Any) -> None:
    """Let the backoff elapse (instead of sleeping through it)."""
    from kefu.channels.models import InboundEvent
    from kefu.core.db import utcnow
    from kefu.core.models import Job

    when = utcnow() - timedelta(seconds=1)
    db.execute(update(Job).where(Job.status == "pending").values(run_at=when))
    db.execute(update(InboundEvent).where(InboundEvent.next_attempt_at.is_not(None)).values(next_attempt_at=when))
    db.commit()


@pytest.fixture
def runner_queue() -> Any:
    from kefu.core.jobs import queue_installed

    with queue_installed(NoWake()) as q:
        yield q


def test_disk_full_then_freed_loses_nothing(
    app: Any, db: Any, make: Any, session_factory: Any, runner_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels import storage
    from kefu.channels.models import ChannelAttachment, InboundEvent
    from kefu.channels.service import record_inbound
    from kefu.conversations.models import Message
    from kefu.core.jobs import run_due
    from kefu.core.models import Job

    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    db.commit()
    real_write = storage.write_file

    def full(brand_id: int, data: bytes) -> tuple[str, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "write_file", full)
    n = 4
    acked = record_inbound(db, inbox, [_msg(i) for i in range(n)])
    db.commit()
    assert len(acked) == n  # stored before the acknowledgement

    # Six rounds of failures spread over "minutes": still pending, each with a scheduled retry job, none failed.
    for _ in range(6):
        run_due(session_factory)
        _due_now(db)
    events = list(db.scalars(select(InboundEvent).where(InboundEvent.id.in_([e.id for e in acked]))))
    for ev in events:
        db.refresh(ev)
    assert {ev.status for ev in events} == {"pending"}
    assert all(ev.attempts == 6 and "No space left" in (ev.last_error or "") for ev in events)
    retry_jobs = db.scalar(select(func.count(Job.id)).where(Job.name == "channels.process_inbound"))
    assert retry_jobs == n  # one live retry per event, never a growing chain
    assert db.scalar(select(func.count(Message.id)).where(Message.provider_message_id.like("DF-%"))) == 0

    monkeypatch.setattr(storage, "write_file", real_write)  # space freed
    run_due(session_factory)
    for ev in events:
        db.refresh(ev)
    assert {ev.status for ev in events} == {"processed"}
    per_id = dict(
        db.execute(
            select(Message.provider_message_id, func.count(Message.id))
            .where(Message.provider_message_id.like("DF-%"))
            .group_by(Message.provider_message_id)
        ).all()
    )
    assert per_id == {f"DF-{i}": 1 for i in range(n)}
    files = db.scalar(select(func.count(ChannelAttachment.id)).where(ChannelAttachment.brand_id == brand.id))
    assert files == n
    # Reactions (channels.inbound_received -> bot) ran once per message; nothing is left in the job table.
    handled = [m.meta.get("bot_handled") for m in db.scalars(select(Message).where(Message.sender_type == "customer"))]
    assert handled.count(True) == n
    assert db.scalar(select(func.count(Job.id))) == 0


def test_failed_event_is_requeued_by_an_operator(
    app: Any, db: Any, make: Any, session_factory: Any, runner_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels import storage
    from kefu.channels.models import InboundEvent
    from kefu.channels.service import record_inbound, requeue_event
    from kefu.core.jobs import run_due

    monkeypatch.setenv("KEFU_INBOUND_MAX_ATTEMPTS", "2")
    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    db.commit()
    real_write = storage.write_file
    monkeypatch.setattr(storage, "write_file", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    (event,) = record_inbound(db, inbox, [_msg(9)])
    db.commit()
    for _ in range(3):
        run_due(session_factory)
        _due_now(db)
    db.refresh(event)
    assert event.status == "failed" and event.attempts == 2
    monkeypatch.setattr(storage, "write_file", real_write)
    requeue_event(db, event.id)
    db.commit()
    run_due(session_factory)
    db.refresh(event)
    assert event.status == "processed"
    assert db.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.status == "failed")) == 0


def test_a_lock_timeout_never_marks_an_inbound_event_failed(
    app: Any, db: Any, make: Any, session_factory: Any, runner_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More lock timeouts in a row than the event has attempts: it stays pending and is processed once they stop."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from kefu.brands.service import create_inbox
    from kefu.channels import storage
    from kefu.channels.service import record_inbound
    from kefu.core.jobs import run_due

    monkeypatch.setenv("KEFU_INBOUND_MAX_ATTEMPTS", "2")
    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    db.commit()
    real_write = storage.write_file
    timeouts = [0]

    def locked(*args: Any) -> Any:
        if timeouts[0] < 3:
            timeouts[0] += 1
            # What the driver raises when the write-wait budget runs out (SQLite; PostgreSQL's 55P03 is alike).
            raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
        return real_write(*args)

    monkeypatch.setattr(storage, "write_file", locked)
    (event,) = record_inbound(db, inbox, [_msg(11)])
    db.commit()
    for _ in range(5):
        run_due(session_factory)
        _due_now(db)
    db.refresh(event)
    assert timeouts[0] == 3
    assert event.status == "processed" and event.attempts == 1, (event.status, event.attempts, event.last_error)


def test_an_inbound_event_failing_transiently_past_the_streak_limit_ends_failed(
    app: Any, db: Any, make: Any, session_factory: Any, runner_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock timeout that never ends is the event's own: past TRANSIENT_STREAK_LIMIT in a row each one uses an
    attempt, and the event ends `failed` (listed, retryable by an operator) instead of retried forever."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from kefu.brands.service import create_inbox
    from kefu.channels import storage
    from kefu.channels.service import record_inbound
    from kefu.core import retry
    from kefu.core.jobs import run_due

    monkeypatch.setenv("KEFU_INBOUND_MAX_ATTEMPTS", "2")
    monkeypatch.setattr(retry, "TRANSIENT_STREAK_LIMIT", 3)
    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    db.commit()

    def locked(*args: Any) -> Any:
        raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(storage, "write_file", locked)
    (event,) = record_inbound(db, inbox, [_msg(13)])
    db.commit()
    seen: list[tuple[str, int, int]] = []
    for _ in range(4):
        run_due(session_factory)
        db.refresh(event)
        seen.append((event.status, event.attempts, event.transient_failures))
        if event.status == "failed":
            break
        _due_now(db)
    assert seen == [("pending", 0, 1), ("pending", 0, 2), ("pending", 1, 3), ("failed", 2, 4)]


def test_transient_inbound_retries_wait_longer_each_time_up_to_the_cap(
    app: Any, db: Any, make: Any, session_factory: Any, runner_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long outage: every lock timeout waits about twice the last (jittered), never over the cap, uses no attempt."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from kefu.brands.service import create_inbox
    from kefu.channels import storage
    from kefu.channels.service import record_inbound
    from kefu.core.db import utcnow
    from kefu.core.jobs import run_due

    monkeypatch.setenv("KEFU_INBOUND_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("KEFU_INBOUND_RETRY_BASE_SECONDS", "2")
    monkeypatch.setenv("KEFU_INBOUND_RETRY_MAX_SECONDS", "300")
    brand = make.brand()
    inbox = create_inbox(db, brand, kind="line", name="line", config={"channel_secret": "s"}, actor=None)
    db.commit()
    real_write = storage.write_file
    outage = [True]

    def locked(*args: Any) -> Any:
        if outage[0]:
            raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
        return real_write(*args)

    monkeypatch.setattr(storage, "write_file", locked)
    (event,) = record_inbound(db, inbox, [_msg(12)])
    db.commit()
    delays: list[float] = []
    for _ in range(10):
        before = utcnow()
        run_due(session_factory)
        db.refresh(event)
        assert event.next_attempt_at is not None
        delays.append((event.next_attempt_at - before).total_seconds())
        _due_now(db)
    assert event.status == "pending" and event.attempts == 0 and event.transient_failures == 10
    ceilings = [min(300.0, 2.0 * 2**i) for i in range(10)]  # 2, 4, … 256, then the 300 s cap
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 - 1 <= delay <= ceiling + 1, (delays, ceilings)
    assert max(delays) <= 301 and delays[-1] >= 149, delays  # the cap holds, and the wait stays there
    outage[0] = False
    run_due(session_factory)
    db.refresh(event)
    assert event.status == "processed" and event.attempts == 1, (event.status, event.attempts, event.last_error)
