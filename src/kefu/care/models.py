"""Care opportunities (a customer who looks stuck, and what an agent did about it) and the widget's flow steps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow
from kefu.core.enums import StrEnumType, check_in


class CareReason(StrEnum):
    """Why the customer looks stuck."""

    TOPIC_REPEAT = "topic_repeat"  # asked about the same topic N times within the window, on any channel
    BOT_STRUGGLE = "bot_struggle"  # the bot fell back twice in one conversation, or the question was repeated
    STUCK_FLOW = "stuck_flow"  # dwelling on, or returning to, the same page or step of a flow
    REOPENED = "reopened"  # a case reopened again and again


class CareStatus(StrEnum):
    """Where an opportunity stands."""

    OPEN = "open"
    REACHED_OUT = "reached_out"
    CONVERTED = "converted"
    DISMISSED = "dismissed"


class CareOpportunity(Base):
    """One detected moment to reach out to a customer; at most one open per customer and reason."""

    __tablename__ = "care_opportunities"
    __table_args__ = (
        Index("ix_care_opportunities_brand_status", "brand_id", "status", "detected_at"),
        Index(
            "uq_care_opportunities_open",
            "customer_id",
            "reason",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        check_in("reason", CareReason),
        check_in("status", CareStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reason: Mapped[CareReason] = mapped_column(StrEnumType(CareReason, 16))
    status: Mapped[CareStatus] = mapped_column(StrEnumType(CareStatus, 16), default=CareStatus.OPEN)
    # Ids and counts only (conversation / ticket ids, the topic key, the page path, how many times): see service.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    dismiss_note: Mapped[str] = mapped_column(Text, default="")  # the agent's reason: may name the customer
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class CareFlowEvent(Base):
    """The widget saw the visitor on a page (and flow step): path without query or fragment, no page content."""

    __tablename__ = "care_flow_events"
    __table_args__ = (Index("ix_care_flow_events_visitor_at", "inbox_id", "visitor_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    step: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
