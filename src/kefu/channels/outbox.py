"""Outbound delivery: agent/bot replies are queued in `outbox` with the message, sent after commit, retried
with exponential backoff and dead-lettered when they keep failing.

Exactly once as far as each provider allows: every attempt reuses the row's idempotency key (LINE
X-Line-Retry-Key, email Message-ID, API callback Idempotency-Key). A row still `sending` when its lease
expires (the sender died, or the database went away between the provider's "ok" and our "sent") is re-sent
only when the adapter says the provider deduplicates it (`resend_safe`); otherwise it becomes `unknown`,
visible to agents and the API, and an operator decides (`requeue`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Inbox
from kefu.channels import config
from kefu.channels.base import SendContext, SendResult, get_adapter
from kefu.channels.models import OutboxMessage
from kefu.channels.service import mark_message_delivery
from kefu.channels.types import ChannelSendError, FailureReason, OutcomeUnknownError, failure_text
from kefu.conversations import service as conversations
from kefu.conversations.models import Conversation, Message
from kefu.core.access import find_in_brand, scope_to_brands
from kefu.core.db import SessionFactory, get_database, reads_of, session_scope, utcnow
from kefu.core.errors import Conflict, NotFound
from kefu.core.jobs import enqueue
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.core.retry import backoff

log = logging.getLogger("kefu.channels.outbox")

# Sends go before other due jobs (bot turns, sweeps): a reply token lasts about a minute.
SEND_PRIORITY = 10


def send_lease() -> timedelta:
    """A row claimed by a sender that then died (or lost the database) is looked at again after this."""
    return timedelta(seconds=config.settings().outbox_send_lease_seconds)


def backoff_seconds(attempt: int) -> float:
    """Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped."""
    return backoff(attempt, base=config.outbox_base_delay(), cap=config.outbox_max_delay(), jitter=False)


def queue(
    session: Session,
    *,
    inbox: Inbox,
    recipient: str,
    payload: dict[str, Any],
    conversation: Conversation | None = None,
    message: Message | None = None,
    automatic: bool = False,
    idempotency_key: str | None = None,
    channel: str | None = None,
) -> OutboxMessage:
    """Add an outbox row in the caller's transaction; the send job is enqueued after commit.

    `channel` names another adapter sending with this inbox's configuration (SMS through a phone inbox's gateway).
    """
    row = OutboxMessage(
        brand_id=inbox.brand_id,
        inbox_id=inbox.id,
        conversation_id=conversation.id if conversation else None,
        message_id=message.id if message else None,
        channel=channel or inbox.kind,
        recipient=recipient,
        payload=payload,
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        automatic=automatic,
        max_attempts=config.outbox_max_attempts(),
        next_attempt_at=utcnow(),
    )
    session.add(row)
    session.flush()
    enqueue(session, "channels.deliver", {"id": row.id}, key=send_key(row), priority=SEND_PRIORITY)
    return row


def automatic_limit_reached(session: Session, inbox_id: int, recipient: str, per_hour: int) -> bool:
    """True once `recipient` got `per_hour` automatic messages from this inbox within the hour (loop/flood brake)."""
    sent = WindowLimit(
        OutboxMessage.created_at,
        timedelta(hours=1),
        (OutboxMessage.inbox_id == inbox_id, OutboxMessage.automatic.is_(True)),
    )
    return sent.exhausted(session, [Budget(OutboxMessage.recipient == recipient, per_hour)])


def send_key(row: OutboxMessage) -> str:
    """Job key: one recipient's sends go out one at a time, in order."""
    return f"out:{row.inbox_id}:{hashlib.sha256(row.recipient.encode()).hexdigest()[:24]}"


def queue_reply(session: Session, conv: Conversation, message: Message) -> OutboxMessage | None:
    """conversations.service outbound hook: queue a customer-visible agent/bot message for its channel."""
    if conv.inbox_id is None or message.provider_message_id:
        return None  # no channel endpoint, or a message that itself came from the provider
    inbox = session.get(Inbox, conv.inbox_id)
    adapter = get_adapter(inbox.kind) if inbox is not None else None
    if inbox is None or adapter is None or not adapter.can_send or not inbox.is_active:
        return None
    recipient = adapter.recipient(session, inbox, conv)
    if not recipient:
        log.warning("conversation %s has no %s recipient; reply not sent", conv.id, inbox.kind)
        return None
    payload = adapter.prepare(session, inbox, conv, message)
    key = payload.pop("idempotency_key", None)
    return queue(
        session,
        inbox=inbox,
        recipient=recipient,
        payload=payload,
        conversation=conv,
        message=message,
        idempotency_key=key,
    )


def _outbound_hook(session: Session, conv: Conversation, message: Message) -> None:
    queue_reply(session, conv, message)


# Registered once, at import: every process that loads kefu.channels (API, worker) queues replies.
if not any(getattr(h, "__module__", "") == __name__ for h in conversations.outbound_hooks):
    conversations.outbound_hooks.append(_outbound_hook)


def _claim(factory: SessionFactory, outbox_id: int) -> tuple[SendContext, str] | None:
    with session_scope(factory) as session:
        row = session.get(OutboxMessage, outbox_id, with_for_update=True, populate_existing=True)
        now = utcnow()
        if row is None or row.status not in ("pending", "sending") or row.next_attempt_at > now:
            return None
        inbox = session.get(Inbox, row.inbox_id)
        if inbox is None:
            row.status, row.last_error = "dead", "[inbox_deleted] inbox deleted"
            return None
        adapter = get_adapter(row.channel)
        if row.status == "sending" and adapter is not None and not adapter.resend_safe(row.payload or {}):
            # The previous attempt's outcome is unknown and the provider cannot drop a duplicate.
            row.status = "unknown"
            row.last_error = "[outcome_unknown] the sender stopped mid-send; not re-sent to avoid a duplicate"
            log.error("outbox %s: %s", row.id, row.last_error)
            if row.message_id is not None:
                mark_message_delivery(session, row.message_id, "unknown", row.last_error)
            return None
        row.status = "sending"
        row.attempts += 1
        lease = send_lease()
        if adapter is not None:
            planned = adapter.plan_send(dict(row.payload or {}), row.attempts)
            if planned != row.payload:
                row.payload = planned
            own = adapter.send_lease(planned)
            lease = min(lease, timedelta(seconds=own)) if own is not None else lease
        row.next_attempt_at = now + lease
        ctx = SendContext(
            inbox_id=inbox.id,
            config=dict(inbox.config or {}),
            recipient=row.recipient,
            payload=dict(row.payload or {}),
            idempotency_key=row.idempotency_key,
            attempt=row.attempts,
        )
        return ctx, row.channel


def deliver(outbox_id: int, factory: SessionFactory | None = None) -> str | None:
    """Try to send one due outbox row; returns its new status (None when it was not due/claimable)."""
    factory = factory or get_database().sessionmaker
    claimed = _claim(factory, outbox_id)
    if claimed is None:
        return None
    ctx, kind = claimed
    adapter = get_adapter(kind)
    result: SendResult | None = None
    unknown = False
    error: str | None = None
    retryable = True
    retry_after: float | None = None
    payload_update: dict[str, Any] = {}
    try:
        if adapter is None:
            raise LookupError(f"no adapter for {kind}")
        result = adapter.send(ctx)
    except OutcomeUnknownError as exc:
        error, retryable = failure_text(exc), False
        unknown = True
    except ChannelSendError as exc:
        error, retryable, retry_after = failure_text(exc), exc.retryable, exc.retry_after
        payload_update = dict(getattr(exc, "payload_update", None) or {})
    except Exception as exc:  # unknown failures (network stacks, libraries) are treated as transient
        error = f"{type(exc).__name__}: {exc}"
    with session_scope(factory) as session:
        row = session.get(OutboxMessage, outbox_id, with_for_update=True, populate_existing=True)
        assert row is not None
        now = utcnow()
        if payload_update:
            row.payload = {**(row.payload or {}), **payload_update}
        if result is not None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            row.provider_message_id = result.provider_message_id
            status = "sent"
        elif unknown:
            row.status, row.last_error = "unknown", error
            status = "unknown"
            log.error("outbox %s: %s", row.id, error)
        elif retryable and row.attempts < row.max_attempts:
            delay = max(backoff_seconds(row.attempts), retry_after or 0.0)
            row.status, row.last_error = "pending", error
            row.next_attempt_at = now + timedelta(seconds=delay)
            status = "retrying"
            log.warning("outbox %s attempt %d failed (%s); retry in %.0fs", row.id, row.attempts, error, delay)
            # The retry's own durable job (at least 1 s out: a failing provider is never retried in a hot loop).
            again = max(delay, 1.0)
            enqueue(session, "channels.deliver", {"id": row.id}, key=send_key(row), delay=again, priority=SEND_PRIORITY)
        else:
            row.status, row.last_error = "dead", error
            status = "dead"
            log.error("outbox %s dead-lettered after %d attempts: %s", row.id, row.attempts, error)
        if row.message_id is not None:
            mark_message_delivery(session, row.message_id, status, None if result else error)
        return row.status


def due_ids(session: Session, limit: int = 200) -> list[int]:
    """Outbox rows due now: pending ones whose time has come, and sends whose lease expired."""
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(OutboxMessage.status == "pending", OutboxMessage.status == "sending"),
                OutboxMessage.next_attempt_at <= utcnow(),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def deliver_due(factory: SessionFactory | None = None, limit: int = 200) -> int:
    """Send every due row once; returns how many were attempted."""
    factory = factory or get_database().sessionmaker
    with session_scope(reads_of(factory)) as session:  # a read: on SQLite, nothing due takes no write turn
        ids = due_ids(session, limit)
    return sum(1 for i in ids if deliver(i, factory) is not None)


def requeue(session: Session, row: OutboxMessage) -> OutboxMessage:
    """Give a dead-lettered or `unknown` row a fresh set of attempts (an operator checked and decided to resend)."""
    if row.status not in ("dead", "unknown"):
        raise Conflict.said("err_channels_outbox_not_dead", row_id=row.id, status=row.status)
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, utcnow(), None
    payload = dict(row.payload or {})
    if payload.pop("mode", None) is not None:
        payload.pop("reply_token", None)  # a reply token is single-use: an operator's resend is a push
        row.payload = payload
    session.flush()
    enqueue(session, "channels.deliver", {"id": row.id}, key=send_key(row), priority=SEND_PRIORITY)
    return row


def get_row(session: Session, outbox_id: int, principal: Principal | None) -> OutboxMessage:
    """Outbox row by id (404 alike when missing or in a brand the principal may not see)."""
    row = find_in_brand(session, OutboxMessage, outbox_id, principal)
    if row is None:
        raise NotFound.said("err_channels_outbox_not_found", row_id=outbox_id)
    return row


# ---------------------------------------------------------------- delivery state shown to agents

# What an agent sees for an outbox status: failed (dead-lettered) and unknown can be retried.
DELIVERY_STATE = {
    "pending": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "dead": "failed",
    "unknown": "unknown",
}
RETRYABLE = frozenset({"failed", "unknown"})


@dataclass(frozen=True)
class Delivery(FailureReason):
    """The delivery state of one outbound message, from its latest outbox row."""

    outbox_id: int
    state: str
    error: str | None
    attempts: int

    @property
    def retryable(self) -> bool:
        """Failed or unknown sends can be retried by an agent."""
        return self.state in RETRYABLE


def deliveries(session: Session, message_ids: Iterable[int]) -> dict[int, Delivery]:
    """Message id -> delivery state for the messages that went through the outbox (one query)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.message_id, OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error,
               OutboxMessage.attempts)
        .where(OutboxMessage.message_id.in_(ids))
        .order_by(OutboxMessage.id)
    )  # fmt: skip
    out: dict[int, Delivery] = {}
    for message_id, oid, status, error, attempts in rows:
        if message_id is not None:  # the latest row of a message wins (ordered by id)
            out[message_id] = Delivery(oid, DELIVERY_STATE.get(status, "unknown"), error, attempts)
    return out


def retry_message(session: Session, message_id: int, principal: Principal) -> OutboxMessage:
    """An agent's retry of a failed or unknown outbound message: the same outbox row is sent again (audited)."""
    stmt = select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    row = session.scalar(
        scope_to_brands(stmt, OutboxMessage.brand_id, principal).order_by(OutboxMessage.id.desc()).limit(1)
    )
    if row is None:  # the same answer for another brand's message
        raise NotFound.said("err_channels_no_delivery", message_id=message_id)
    requeue(session, row)
    mark_message_delivery(session, message_id, "pending", None)
    record(
        session,
        principal,
        "message.retry",
        target_type="message",
        target_id=message_id,
        brand_id=row.brand_id,
        details={"outbox_id": row.id},
    )
    return row
