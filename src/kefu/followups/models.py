"""Follow-up rules (which resolved cases get how many contacts within how many days) and follow-up attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

OUTCOMES = ("reached", "not_reached", "reopened")
STATUSES = ("pending", "done", "cancelled")


class FollowUpRule(Base):
    """After resolution of a case matching category/priority: `attempts` contacts spread over `within_days`."""

    __tablename__ = "follow_up_rules"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))  # None = any category
    priority: Mapped[str | None] = mapped_column(String(16))  # None = any priority
    attempts: Mapped[int] = mapped_column(default=1)
    within_days: Mapped[int] = mapped_column(default=7)
    first_after_hours: Mapped[int] = mapped_column(default=24)
    stop_when_reached: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """One planned follow-up contact of a resolved case, and its outcome."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("ticket_id", "rule_id", "attempt"),
        Index("ix_follow_ups_brand_due", "brand_id", "due_at"),
        Index(
            "ix_follow_ups_pending_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up_rules.id", ondelete="SET NULL"))
    attempt: Mapped[int] = mapped_column(default=1)
    of_attempts: Mapped[int] = mapped_column(default=1)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # reached | not_reached | reopened (a fixed code, not the customer's words: those go to `note`)
    result: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")  # free text about the call: may name the customer
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
