"""One proactive notice to a customer, deduplicated by a key (the outbox row carries the actual send)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


class NoticeBroadcast(Base):
    """A notice an operator sent to every affected customer (an outage), with the audience it was chosen by."""

    __tablename__ = "notice_broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # outage
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)  # category, tag, since, until
    channels: Mapped[list[Any]] = mapped_column(default=list)  # channels besides the customer's own
    recipients: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerNotice(Base):
    """One delivery of a notice to one recipient on one route (line/email/sms/portal…), or why it was not sent."""

    __tablename__ = "customer_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_broadcasts.id", ondelete="CASCADE"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(32))  # status | follow_up | callback_reminder | outage
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    route: Mapped[str] = mapped_column(String(16))  # the conversation's channel, sms, portal, or none
    status: Mapped[str] = mapped_column(String(16))  # queued | posted | skipped
    recipient: Mapped[str | None] = mapped_column(String(320), default=None)  # address / number / channel id
    reason: Mapped[str | None] = mapped_column(String(200))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
