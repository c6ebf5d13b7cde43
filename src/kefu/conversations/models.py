"""Conversations and their messages (customer, bot, agent, system; internal notes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from kefu.core.db import Base, utcnow
from kefu.core.enums import ChannelKind, StrEnumType, check_in, validate_member


class ConversationStatus(StrEnum):
    """Who owns the conversation now: the bot, an agent (open/pending), or nobody (closed)."""

    BOT = "bot"
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class SenderType(StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


CONVERSATION_STATUSES: tuple[ConversationStatus, ...] = tuple(ConversationStatus)
SENDER_TYPES: tuple[SenderType, ...] = tuple(SenderType)
# Meta keys of messages the system sends under the bot's name that are not replies to the customer: survey
# invitations (CSAT, campaigns) and service notices. Metrics of what the bot handled leave them out; a scan test
# (tests/analytics/test_bot_announcements.py) keeps every such sender outside kefu.bot tagging its messages so.
ANNOUNCEMENT_KEYS: tuple[str, ...] = ("survey", "notice")


class Conversation(Base):
    """One thread with a customer on one channel; may be linked to a ticket."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_brand_last", "brand_id", "last_message_at", "id"),
        Index("ix_conversations_status_last", "status", "last_message_at", "id"),
        check_in("status", ConversationStatus),
        check_in("channel", ChannelKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inboxes.id", ondelete="SET NULL"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[ChannelKind] = mapped_column(StrEnumType(ChannelKind, 32))
    # Typed str for callers that assign literals (bot/); values are ConversationStatus members, validated below.
    status: Mapped[str] = mapped_column(StrEnumType(ConversationStatus, 16), default=ConversationStatus.OPEN)
    subject: Mapped[str | None] = mapped_column(String(500))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    external_thread_id: Mapped[str | None] = mapped_column(String(500))
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @validates("status", "channel")
    def _closed_set(self, key: str, value: Any) -> Any:
        enum = ConversationStatus if key == "status" else ChannelKind
        return validate_member(enum, value, f"conversation {key}")


class Message(Base):
    """One message or internal note in a conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("brand_id", "channel", "provider_message_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # The customer timeline's seek from a cursor, (created_at, id) < (…) per conversation, is read as a range of
        # this index on both databases instead of every message of each conversation (benchmarks/customer_timeline_
        # plan.py, 5,000 messages in 10 conversations among 185,000: deep page SQLite ~19 → 0.2 ms, PostgreSQL
        # EXPLAIN ANALYZE 12 → 3 ms; the first page's plan is unchanged).
        Index("ix_messages_conversation_created_id", "conversation_id", "created_at", "id"),
        check_in("sender_type", SenderType),
        check_in("channel", ChannelKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[ChannelKind] = mapped_column(StrEnumType(ChannelKind, 32))
    sender_type: Mapped[SenderType] = mapped_column(StrEnumType(SenderType, 16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    is_note: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(32), default="text")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("sender_type", "channel")
    def _closed_set(self, key: str, value: Any) -> Any:
        enum = SenderType if key == "sender_type" else ChannelKind
        return validate_member(enum, value, f"message {key}")
