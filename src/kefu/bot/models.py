"""Bot state per conversation, the learning-loop review queue and answer feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

REVIEW_REASONS = ("low_confidence", "out_of_scope", "unhelpful", "handoff")
REVIEW_STATUSES = ("open", "attached", "dismissed")


class BotState(Base):
    """What the bot remembers about one conversation (failures, pending clarification, handoff)."""

    __tablename__ = "bot_states"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    clarify_options: Mapped[list[Any]] = mapped_column(default=list)
    last_intent: Mapped[str | None] = mapped_column(String(64))
    last_confidence: Mapped[float | None]
    max_anger: Mapped[int] = mapped_column(default=0)
    handed_off_at: Mapped[datetime | None]
    handoff_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BotReviewItem(Base):
    """A customer question the bot could not answer well, waiting for an editor to attach it to an FAQ."""

    __tablename__ = "bot_review_items"
    __table_args__ = (Index("ix_bot_review_items_brand_status", "brand_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float | None]
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    faq_id: Mapped[int | None] = mapped_column(ForeignKey("kb_faqs.id", ondelete="SET NULL"))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class BotFeedback(Base):
    """A customer's "was this helpful?" vote on a bot answer."""

    __tablename__ = "bot_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    faq_id: Mapped[int | None] = mapped_column(ForeignKey("kb_faqs.id", ondelete="SET NULL"), index=True)
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
