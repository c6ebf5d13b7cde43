"""Channel plumbing tables: raw inbound events, the outbound outbox, stored attachments and IMAP cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

INBOUND_STATUSES = ("pending", "processed", "ignored", "failed")
# unknown: the send may have happened and the provider cannot deduplicate a resend (operators decide).
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "read", "dead", "unknown")


class InboundEvent(Base):
    """A provider event persisted before it is acknowledged; processed (idempotently) afterwards."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("inbox_id", "provider_id"),
        Index("ix_inbound_events_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    # Transient failures in a row (lock timeout, database gone): no attempt used, a growing wait (process_event).
    transient_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    # After a failed attempt (disk full, a bug, the database): not retried before this time.
    next_attempt_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """One outbound send to a customer's channel, retried with backoff until sent or dead-lettered."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_inbox_id_recipient_created_at", "inbox_id", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Reused on every retry: LINE X-Line-Retry-Key, email Message-ID, API callback Idempotency-Key.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    automatic: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelAttachment(Base):
    """A file received or uploaded on a channel, stored under the data dir and served as a download."""

    __tablename__ = "channel_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500), index=True)  # the orphan-file sweep looks files up by path
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImapCursor(Base):
    """Per-inbox IMAP position: the highest UID already persisted under a given UIDVALIDITY."""

    __tablename__ = "imap_cursors"

    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
