"""Inbound pipeline: persist raw events (deduped) before acknowledging, then turn them into timeline messages."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.brands.models import Inbox
from kefu.channels.base import ChannelAdapter, get_adapter
from kefu.channels.models import ChannelAttachment, InboundEvent, OutboxMessage
from kefu.channels.storage import describe, store
from kefu.channels.types import Attachment, EventType, InboundMessage, InvalidPayloadError
from kefu.conversations.commands import CreateConversation
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import add_message, create_conversation
from kefu.core.commands import build
from kefu.core.db import transient_db_error, utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from kefu.core.events import publish
from kefu.core.jobs import enqueue
from kefu.core.retry import backoff, transient_backoff, uses_attempt
from kefu.customers.models import Customer
from kefu.customers.service import find_or_create_by_identity
from kefu.tickets.intake import ensure_case

log = logging.getLogger("kefu.channels")


def max_process_attempts() -> int:
    """Processing attempts before an inbound event is marked failed (then only a requeue re-drives it)."""
    from kefu.channels.config import settings

    return settings().inbound_max_attempts


def process_retry_delay(attempt: int) -> float:
    """Backoff after failed attempt `attempt`: 2 s doubling, capped at 5 min (20 attempts span about 1.3 hours)."""
    from kefu.channels.config import settings

    cfg = settings()
    return backoff(attempt, base=cfg.inbound_retry_base_seconds, cap=cfg.inbound_retry_max_seconds, jitter=False)


def transient_retry_delay(attempts: int, streak: int) -> float:
    """Backoff after the `streak`-th transient failure in a row: kefu.core.retry's, on the inbound retry settings."""
    from kefu.channels.config import settings

    cfg = settings()
    return transient_backoff(attempts, streak, base=cfg.inbound_retry_base_seconds, cap=cfg.inbound_retry_max_seconds)


def inbound_key(inbox_id: int, sender: str) -> str:
    """Job key serialising one sender's inbound events and the reactions to them (bot turns, routing)."""
    return f"in:{inbox_id}:{hashlib.sha256(sender.encode()).hexdigest()[:24]}"


# Inbound kinds that become customer messages; receipts and the rest are recorded but not shown.
MESSAGE_EVENTS = frozenset({EventType.MESSAGE, EventType.STICKER, EventType.POSTBACK})
MEMBERSHIP_EVENTS = {EventType.FOLLOW: "加入好友 / followed", EventType.UNFOLLOW: "封鎖 / unfollowed"}


# ---------------------------------------------------------------- (de)serialization of normalized messages


def to_payload(msg: InboundMessage) -> dict[str, Any]:
    """JSON form of an InboundMessage (attachment bytes base64) stored in inbound_events.payload."""
    return {
        "channel": msg.channel,
        "provider_message_id": msg.provider_message_id,
        "sender_external_id": msg.sender_external_id,
        "sender_name": msg.sender_name,
        "text": msg.text,
        "html": msg.html,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "data": base64.b64encode(a.data).decode("ascii") if a.data is not None else None,
                "url": a.url,
                "content_id": a.content_id,
                "inline": a.inline,
                "provider_id": a.provider_id,
            }
            for a in msg.attachments
        ],
        "sent_at": msg.sent_at.isoformat() if msg.sent_at else None,
        "thread_keys": list(msg.thread_keys),
        "subject": msg.subject,
        "reply_token": msg.reply_token,
        "event_type": str(msg.event_type),
        "raw": msg.raw,
    }


def from_payload(d: Mapping[str, Any]) -> InboundMessage:
    """Inverse of to_payload."""
    return InboundMessage(
        channel=d["channel"],
        provider_message_id=d["provider_message_id"],
        sender_external_id=d["sender_external_id"],
        sender_name=d.get("sender_name"),
        text=d.get("text") or "",
        html=d.get("html"),
        attachments=tuple(
            Attachment(
                filename=a["filename"],
                content_type=a["content_type"],
                size=a.get("size"),
                data=base64.b64decode(a["data"]) if a.get("data") is not None else None,
                url=a.get("url"),
                content_id=a.get("content_id"),
                inline=bool(a.get("inline")),
                provider_id=a.get("provider_id"),
            )
            for a in d.get("attachments", [])
        ),
        sent_at=datetime.fromisoformat(d["sent_at"]) if d.get("sent_at") else None,
        thread_keys=tuple(d.get("thread_keys", ())),
        subject=d.get("subject"),
        reply_token=d.get("reply_token"),
        event_type=d.get("event_type") or EventType.MESSAGE,
        raw=dict(d.get("raw") or {}),
    )


# ---------------------------------------------------------------- accept: persist before acknowledging


def get_inbox(session: Session, inbox_id: int, kind: str) -> Inbox:
    """An active inbox of the given kind (404 otherwise, so probing reveals nothing)."""
    inbox = session.get(Inbox, inbox_id)
    if inbox is None or inbox.kind != kind or not inbox.is_active:
        raise NotFound.said("err_channels_inbox_id_not_found", inbox_id=inbox_id)
    return inbox


def adapter_for(kind: str) -> ChannelAdapter:
    """The registered adapter (a missing one is a deployment bug)."""
    adapter = get_adapter(kind)
    if adapter is None:
        raise LookupError(f"no channel adapter for {kind!r}")
    return adapter


def receive_webhook(
    session: Session, inbox_id: int, kind: str, body: bytes, headers: Mapping[str, str]
) -> list[InboundEvent]:
    """Verify, parse and persist a webhook body; processing is queued for after the commit."""
    inbox = get_inbox(session, inbox_id, kind)
    adapter = adapter_for(kind)
    if not adapter.verify(inbox, body, headers):
        raise Unauthorized("Invalid webhook signature.")
    try:
        messages = adapter.parse(inbox, body)
    except InvalidPayloadError as exc:
        raise InvalidInput(str(exc)) from exc
    return record_inbound(session, inbox, messages)


def record_inbound(
    session: Session, inbox: Inbox, messages: Iterable[InboundMessage], *, process: bool = True
) -> list[InboundEvent]:
    """Insert one inbound_events row per message, skipping provider ids already stored (returns the new rows)."""
    created: list[InboundEvent] = []
    senders: dict[str, list[int]] = {}
    for msg in messages:
        pid = msg.provider_message_id[:500]
        if _existing_event(session, inbox.id, pid) is not None:
            continue
        event = InboundEvent(
            brand_id=inbox.brand_id, inbox_id=inbox.id, channel=inbox.kind, provider_id=pid, payload=to_payload(msg)
        )
        try:
            with session.begin_nested():
                session.add(event)
                session.flush()
        except IntegrityError:
            # A concurrent delivery of the same event won the insert; theirs is the one that counts.
            continue
        created.append(event)
        senders.setdefault(inbound_key(inbox.id, msg.sender_external_id or ""), []).append(event.id)
    if process:
        # One durable job per sender, in this transaction: acknowledged means stored *and* scheduled.
        for key, ids in senders.items():
            enqueue(session, "channels.process_inbound", {"ids": ids}, key=key, priority=50)
    return created


def _existing_event(session: Session, inbox_id: int, provider_id: str) -> InboundEvent | None:
    return session.scalar(
        select(InboundEvent).where(InboundEvent.inbox_id == inbox_id, InboundEvent.provider_id == provider_id)
    )


# ---------------------------------------------------------------- process: event → customer → conversation → message


@dataclass
class Outcome:
    """What processing an inbound event produced."""

    status: str
    conversation: Conversation | None = None
    message: Message | None = None
    new_conversation: bool = False


Prefetched = dict[str, tuple[str, str, bytes]]


def prefetch_attachments(inbox: Inbox, payload: Mapping[str, Any]) -> Prefetched:
    """Download provider-hosted attachments before the write transaction (keeps SQLite's lock short)."""
    msg = from_payload(payload)
    adapter = get_adapter(inbox.kind)
    out: Prefetched = {}
    if adapter is None:
        return out
    for att in msg.attachments:
        key = att.provider_id or att.url
        if att.data is None and key:
            try:
                data = adapter.fetch_attachment(inbox.config or {}, att)
            except Exception as exc:  # the message is kept with a reference; the file is best effort
                log.warning("attachment download failed for %s: %s", key, exc)
                data = None
            if data is not None:
                out[key] = (att.filename, att.content_type, data)
    return out


def process_event(
    session: Session, event_id: int | InboundEvent, prefetched: Prefetched | None = None
) -> Outcome | None:
    """Process one pending inbound event exactly once (row lock + status check + message dedupe).

    Given an id, the event is read back under a row lock; given the row record_inbound just inserted in this
    transaction (the widget's synchronous store), it is used as is: no other transaction can see it before the commit,
    so the lock and the read would be a round trip for nothing on the path a visitor waits on.
    A failure keeps the event pending and schedules a retry job with backoff in this same transaction (a full disk
    clears, a bug gets fixed); after max_process_attempts() it is marked failed, listed and requeued by operators.
    """
    if isinstance(event_id, InboundEvent):
        event: InboundEvent | None = event_id
    else:
        event = session.get(InboundEvent, event_id, with_for_update=True, populate_existing=True)
    if event is None or event.status != "pending":
        return None
    if event.next_attempt_at is not None and event.next_attempt_at > utcnow():
        return None  # a retry is scheduled; an early sweep or a stale job must not start a second chain
    inbox = session.get(Inbox, event.inbox_id)
    if inbox is None:
        event.status = "failed"
        event.last_error = "inbox deleted"
        return None
    try:
        msg = from_payload(event.payload)
        outcome = _apply_retrying_races(session, inbox, msg, prefetched or {})
    except Exception as exc:
        log.exception("processing inbound event %s failed", event_id)
        # A lock or statement timeout, or the database briefly gone, is retried without using up an attempt
        # (kefu.core.db.transient_db_error, as the job runner does): contention never marks an event failed.
        transient = transient_db_error(exc)
        event.transient_failures = (event.transient_failures or 0) + 1 if transient else 0
        # Past kefu.core.retry.TRANSIENT_STREAK_LIMIT in a row a transient failure is the event's own: it uses one.
        used = uses_attempt(transient, event.transient_failures)
        event.attempts += 1 if used else 0
        event.last_error = repr(exc)[:2000]
        if event.attempts >= max_process_attempts() and used:
            event.status = "failed"
            event.next_attempt_at = None
        else:
            if transient:  # no attempt used, but each failure in a row waits longer (a long outage is not hammered)
                delay = transient_retry_delay(event.attempts, event.transient_failures)
            else:
                delay = process_retry_delay(max(event.attempts, 1))
            event.next_attempt_at = utcnow() + timedelta(seconds=delay)
            sender = str((event.payload or {}).get("sender_external_id") or "")
            key = inbound_key(event.inbox_id, sender)
            enqueue(session, "channels.process_inbound", {"ids": [event.id]}, key=key, delay=delay)
        session.flush()
        return None
    event.status = outcome.status
    event.processed_at = utcnow()
    event.next_attempt_at = None
    event.attempts += 1
    if outcome.conversation is not None:
        event.conversation_id = outcome.conversation.id
    if outcome.message is not None:
        event.message_id = outcome.message.id
    session.flush()
    return outcome


def _apply_retrying_races(session: Session, inbox: Inbox, msg: InboundMessage, prefetched: Prefetched) -> Outcome:
    # Two workers handling a new sender's first events at once both try to create the customer; the loser's
    # savepoint fails (unique identity / Conflict). The winner has committed by then, so one more try finds it
    # instead of leaving the event to the sweeper's grace period.
    for attempt in (1, 2, 3):
        try:
            with session.begin_nested():
                return _apply(session, inbox, msg, prefetched)
        except (IntegrityError, Conflict):
            if attempt == 3:
                raise
            log.info("inbound event raced a concurrent first contact; retrying (attempt %d)", attempt + 1)
    raise AssertionError("unreachable")


def resolve_conversation(session: Session, inbox: Inbox, msg: InboundMessage) -> tuple[Conversation, bool]:
    """The customer's conversation this message belongs to, opening one if needed (returns it and is-new)."""
    adapter = adapter_for(inbox.kind)
    return _conversation(session, inbox, adapter, msg, _customer(session, inbox, adapter, msg))


def _customer(session: Session, inbox: Inbox, adapter: ChannelAdapter, msg: InboundMessage) -> Customer:
    customer, _ = find_or_create_by_identity(
        session, inbox.brand_id, adapter.identity_kind, msg.sender_external_id, msg.sender_name
    )
    return customer


def _conversation(
    session: Session, inbox: Inbox, adapter: ChannelAdapter, msg: InboundMessage, customer: Customer
) -> tuple[Conversation, bool]:
    conv = adapter.find_conversation(session, inbox, msg)
    if conv is not None:
        return conv, False
    conv = create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": inbox.brand_id,
                "customer_id": customer.id,
                "channel": inbox.kind,
                "inbox_id": inbox.id,
                "subject": (msg.subject or None) and (msg.subject or "")[:500],
                "status": str((inbox.config or {}).get("initial_status", "open")),
                "external_thread_id": adapter.thread_key(msg)[:500],
            },
        ),
        actor=None,
    )
    return conv, True


def on_a_note(session: Session, row: ChannelAttachment) -> bool:
    """The file is kept on an internal note: agents' material, as hidden from the customer as the note itself."""
    notes = session.scalars(
        select(Message.attachments).where(Message.conversation_id == row.conversation_id, Message.is_note.is_(True))
    )
    return any(isinstance(a, dict) and a.get("id") == row.id for files in notes for a in files or [])


def _attachments(session: Session, conv: Conversation, msg: InboundMessage, prefetched: Prefetched) -> list[Any]:
    out: list[Any] = []
    for att in msg.attachments:
        key = att.provider_id or att.url or ""
        if key.startswith("stored:"):
            stored = session.get(ChannelAttachment, int(key.split(":", 1)[1]))
            if stored is not None and stored.conversation_id == conv.id and not on_a_note(session, stored):
                out.append(describe(stored))
            continue
        data = att.data
        filename, content_type = att.filename, att.content_type
        if data is None and key in prefetched:
            filename, content_type, data = prefetched[key]
        if data is None:
            # Keep the reference so an agent sees that something was sent even if the file is unavailable.
            out.append({"filename": att.filename, "content_type": att.content_type, "provider_id": key or None})
            continue
        row = store(
            session,
            brand_id=conv.brand_id,
            conversation_id=conv.id,
            filename=filename,
            content_type=content_type,
            data=data,
        )
        entry = describe(row)
        if att.content_id:
            entry["content_id"] = att.content_id
            entry["inline"] = att.inline
        out.append(entry)
    return out


def _content_type(msg: InboundMessage, attachments: list[Any]) -> str:
    if msg.event_type == EventType.STICKER:
        return "sticker"
    if not msg.text and attachments:
        kind = str(attachments[0].get("content_type") or "").split("/", 1)[0]
        return kind if kind in ("image", "video", "audio") else "file"
    return "text"


def _apply(session: Session, inbox: Inbox, msg: InboundMessage, prefetched: Prefetched) -> Outcome:
    adapter = adapter_for(inbox.kind)
    receipt = adapter.delivery_update(msg)
    if receipt is not None:
        apply_delivery_update(session, inbox, receipt)
        return Outcome("ignored")
    if msg.event_type == EventType.FEEDBACK:
        return _feedback(session, inbox, adapter, msg)
    membership = MEMBERSHIP_EVENTS.get(EventType(msg.event_type)) if msg.event_type in MEMBERSHIP_EVENTS else None
    if msg.event_type not in MESSAGE_EVENTS and membership is None:
        return Outcome("ignored")
    if not msg.sender_external_id:
        return Outcome("ignored")
    customer = _customer(session, inbox, adapter, msg)
    conv, new = _conversation(session, inbox, adapter, msg, customer)
    meta: dict[str, Any] = {"inbox_id": inbox.id, "event_type": str(msg.event_type), **adapter.message_meta(msg)}
    if msg.sent_at:
        meta["sent_at"] = msg.sent_at.isoformat()
    if msg.reply_token:
        meta["reply_token"] = msg.reply_token
        meta["reply_token_at"] = utcnow().isoformat()
    if msg.subject:
        meta["subject"] = msg.subject
    if msg.html:
        meta["html"] = msg.html  # already sanitized by the protocol layer
    raw_message = msg.raw.get("message")
    if msg.event_type == EventType.STICKER and isinstance(raw_message, dict):
        meta["sticker"] = {k: raw_message[k] for k in ("packageId", "stickerId", "sticker_id") if k in raw_message}
    if membership is not None:
        attrs = dict(customer.attributes or {})
        attrs[f"{inbox.kind}_following"] = msg.event_type == EventType.FOLLOW
        customer.attributes = attrs
        message, _ = add_message(
            session,
            conv,
            sender_type="system",
            body=membership,
            content_type="event",
            meta=meta,
            provider_message_id=msg.provider_message_id,
        )
    else:
        body = msg.text or ("[貼圖] sticker" if msg.event_type == EventType.STICKER else "")
        attachments = _attachments(session, conv, msg, prefetched)
        message, _ = add_message(
            session,
            conv,
            sender_type="customer",
            body=body,
            content_type=_content_type(msg, attachments),
            attachments=attachments,
            meta=meta,
            provider_message_id=msg.provider_message_id,
        )
    adapter.after_inbound(session, inbox, conv, message, msg, new)
    if membership is None:
        ensure_case(session, conv, message)  # every contact becomes a case per the inbox's policy (#17)
    announce_inbound(session, inbox, conv, message, new, key=inbound_key(inbox.id, msg.sender_external_id))
    return Outcome("processed", conv, message, new)


def _feedback(session: Session, inbox: Inbox, adapter: ChannelAdapter, msg: InboundMessage) -> Outcome:
    """A vote button: recorded for the sender's own conversation (a repeat or a stranger's vote is ignored)."""
    from kefu.channels.feedback import customer_vote, parse_vote
    from kefu.core.errors import ProblemError

    vote = parse_vote(msg.text)
    conv = adapter.find_conversation(session, inbox, msg) if msg.sender_external_id else None
    if vote is None or conv is None:
        return Outcome("ignored")
    try:
        customer_vote(session, conv, vote[0], vote[1])
    except ProblemError:
        return Outcome("ignored", conv)
    return Outcome("processed", conv)


def announce_inbound(
    session: Session, inbox: Inbox, conv: Conversation, message: Message, new: bool, *, key: str | None = None
) -> None:
    """Event `message.inbound` (after commit) and the durable job `channels.inbound_received` (in this transaction).

    The job shares the sender's key, so bot turns run one at a time and after the message that caused them.
    """
    data = {
        "message_id": message.id,
        "conversation_id": conv.id,
        "customer_id": conv.customer_id,
        "brand_id": conv.brand_id,
        "inbox_id": inbox.id,
        "channel": conv.channel,
        "sender_type": message.sender_type,
        "new_conversation": new,
        "assignee_id": conv.assignee_id,
    }
    # The assignee hears about replies on their conversations wherever they are in the console.
    mine = (f"agent:{conv.assignee_id}",) if conv.assignee_id else ()
    publish(session, "message.inbound", data, (f"brand:{conv.brand_id}", f"conversation:{conv.id}", *mine))
    enqueue(session, "channels.inbound_received", data, key=key or f"conversation:{conv.id}", priority=60)


def apply_delivery_update(session: Session, inbox: Inbox, receipt: Any) -> int:
    """Mark matching outbox rows (and their messages) delivered/read; returns how many changed."""
    rank = {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}
    if receipt.idempotency_key:
        return _reconcile_echo(session, inbox, receipt)
    stmt = select(OutboxMessage).where(
        OutboxMessage.inbox_id == inbox.id,
        OutboxMessage.recipient == receipt.recipient,
        OutboxMessage.status.in_(("sent", "delivered")),
    )
    if receipt.provider_message_ids:
        stmt = stmt.where(OutboxMessage.provider_message_id.in_(receipt.provider_message_ids))
    elif receipt.watermark is not None:
        stmt = stmt.where(OutboxMessage.sent_at <= receipt.watermark)
    else:
        return 0
    changed = 0
    for row in session.scalars(stmt):
        if rank.get(receipt.status, 0) > rank.get(row.status, 0):
            row.status = receipt.status
            changed += 1
            if row.message_id is not None:
                mark_message_delivery(session, row.message_id, receipt.status, None)
    session.flush()
    return changed


def _reconcile_echo(session: Session, inbox: Inbox, receipt: Any) -> int:
    """The provider echoed our own send: a row still sending, or `unknown`, did reach the customer."""
    row = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.inbox_id == inbox.id, OutboxMessage.idempotency_key == receipt.idempotency_key
        )
    )
    if row is None or row.status not in ("pending", "sending", "unknown"):
        return 0
    row.status, row.sent_at, row.last_error = "sent", utcnow(), None
    row.provider_message_id = row.provider_message_id or next(iter(receipt.provider_message_ids), None)
    if row.message_id is not None:
        mark_message_delivery(session, row.message_id, "sent", None)
    session.flush()
    return 1


def mark_message_delivery(session: Session, message_id: int, status: str, error: str | None) -> None:
    """Record a delivery status on the message and tell agents (conversation topic, not the public one)."""
    message = session.get(Message, message_id)
    if message is None:
        return
    meta = dict(message.meta or {})
    meta["delivery"] = {"status": status, "at": utcnow().isoformat(), **({"error": error} if error else {})}
    message.meta = meta
    session.flush()
    publish(
        session,
        "message.delivery",
        {"message_id": message.id, "conversation_id": message.conversation_id, "status": status, "error": error},
        (f"brand:{message.brand_id}", f"conversation:{message.conversation_id}"),
    )


# ---------------------------------------------------------------- recovery


def pending_event_ids(session: Session, *, older_than: timedelta, limit: int = 500) -> list[int]:
    """Pending inbound events whose job is overdue by `older_than` (a safety net: each event has a durable job)."""
    cutoff = utcnow() - older_than
    return list(
        session.scalars(
            select(InboundEvent.id)
            .where(
                InboundEvent.status == "pending",
                or_(
                    InboundEvent.next_attempt_at.is_(None) & (InboundEvent.received_at <= cutoff),
                    InboundEvent.next_attempt_at <= cutoff,
                ),
            )
            .order_by(InboundEvent.id)
            .limit(limit)
        )
    )


def requeue_event(session: Session, event_id: int) -> InboundEvent:
    """Give a failed (or stuck pending) inbound event a fresh set of attempts, now (operators, after a fix)."""
    event = session.get(InboundEvent, event_id, with_for_update=True)
    if event is None:
        raise NotFound.said("err_channels_event_not_found", event_id=event_id)
    if event.status not in ("failed", "pending"):
        raise Conflict.said("err_channels_event_not_requeueable", event_id=event_id, status=event.status)
    event.status, event.attempts, event.next_attempt_at, event.last_error = "pending", 0, None, None
    event.transient_failures = 0
    sender = str((event.payload or {}).get("sender_external_id") or "")
    enqueue(session, "channels.process_inbound", {"ids": [event.id]}, key=inbound_key(event.inbox_id, sender))
    session.flush()
    return event


def failed_events(session: Session, brand_ids: list[int] | None = None, limit: int = 100) -> list[InboundEvent]:
    """Inbound events that gave up (status failed) or are being retried (pending with an error), newest first."""
    stmt = (
        select(InboundEvent)
        .where(
            or_(
                InboundEvent.status == "failed",
                InboundEvent.last_error.is_not(None) & (InboundEvent.status == "pending"),
            )
        )
        .order_by(InboundEvent.id.desc())
        .limit(limit)
    )
    if brand_ids is not None:
        stmt = stmt.where(InboundEvent.brand_id.in_(brand_ids))
    return list(session.scalars(stmt))


InboundHook = Callable[[dict[str, Any]], None]
_inbound_hooks: list[InboundHook] = []


def on_inbound(fn: InboundHook) -> InboundHook:
    """Subscribe to committed inbound messages (run by job `channels.inbound_received`; payload has ids)."""
    _inbound_hooks.append(fn)
    return fn


def inbound_hooks() -> list[InboundHook]:
    """Subscribers registered with on_inbound."""
    return list(_inbound_hooks)
