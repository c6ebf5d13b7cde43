"""Channel jobs: process persisted inbound events, deliver outbox rows, fan out to inbound subscribers, sweep."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.brands.models import Inbox
from kefu.channels import config, outbox, storage
from kefu.channels.base import adapters
from kefu.channels.models import InboundEvent
from kefu.channels.service import inbound_hooks, pending_event_ids, prefetch_attachments, process_event
from kefu.core.db import SessionFactory, get_database, reads_of, session_scope
from kefu.core.jobs import job
from kefu.core.scheduler import periodic

log = logging.getLogger("kefu.channels.jobs")


def process_one(event_id: int, factory: SessionFactory | None = None) -> None:
    """Process one inbound event in its own unit of work (downloads happen before the write transaction)."""
    factory = factory or get_database().sessionmaker
    with session_scope(factory) as session:
        event = session.get(InboundEvent, event_id)
        if event is None or event.status != "pending":
            return
        inbox = session.get(Inbox, event.inbox_id)
        needs_download = any(a.get("data") is None for a in event.payload.get("attachments", []))
        prefetched = prefetch_attachments(inbox, event.payload) if inbox is not None and needs_download else {}
    with session_scope(factory) as session:
        process_event(session, event_id, prefetched)


@job("channels.process_inbound")
def process_inbound(payload: dict[str, Any]) -> None:
    """Turn freshly persisted inbound events into messages, in arrival order."""
    for event_id in payload.get("ids", []):
        process_one(int(event_id))


@job("channels.deliver")
def deliver(payload: dict[str, Any]) -> None:
    """Send one outbox row (retries are scheduled on the row, not by the job queue)."""
    outbox.deliver(int(payload["id"]))


@job("channels.inbound_received")
def inbound_received(payload: dict[str, Any]) -> None:
    """Hand a committed inbound message to subscribers (bot, routing) registered with service.on_inbound."""
    for hook in inbound_hooks():
        hook(payload)


def sweep(factory: SessionFactory | None = None, *, grace: float | None = None) -> dict[str, int]:
    """Recover pending inbound events, send due outbox rows and run each channel's periodic work."""
    factory = factory or get_database().sessionmaker
    older = timedelta(seconds=config.sweep_grace_seconds() if grace is None else grace)
    with session_scope(reads_of(factory)) as session:  # a read: on SQLite, finding nothing takes no write turn
        ids = pending_event_ids(session, older_than=older)
    for event_id in ids:
        try:
            process_one(event_id, factory)
        except Exception:
            log.exception("sweep: inbound event %s failed", event_id)
    sent = outbox.deliver_due(factory)
    for adapter in adapters().values():
        periodic = getattr(adapter, "periodic", None)
        if periodic is not None:
            try:
                periodic(factory)
            except Exception:
                log.exception("sweep: %s periodic work failed", adapter.kind)
    return {"inbound": len(ids), "outbox": sent}


@periodic("channels.sweep", every=30)
def sweep_job(payload: dict[str, Any]) -> None:
    """Leader-scheduled sweep, so recovery also happens where `kefu serve` processes are not the ones running jobs."""
    sweep()


@periodic("channels.attachment_orphans", every=3600)
def attachment_orphans_job(payload: dict[str, Any]) -> None:
    """Delete attachment files a crash before COMMIT left without their row (older than the grace period)."""
    storage.sweep_orphans()


def pending_count(factory: SessionFactory | None = None) -> int:
    """Inbound events not yet processed (health and tests)."""
    factory = factory or get_database().sessionmaker
    with session_scope(factory) as session:
        return len(list(session.scalars(select(InboundEvent.id).where(InboundEvent.status == "pending"))))
