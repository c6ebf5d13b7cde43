"""Security incidents (4 levels, 1-hour report and 48-hour form deadlines) and password-reset requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

INCIDENT_LEVELS = (1, 2, 3, 4)  # 1 = least, 4 = most severe
INCIDENT_STATUSES = ("open", "investigating", "contained", "resolved", "closed")


class SecurityIncident(Base):
    """A reported information-security event, with its statutory deadlines counted from detection."""

    __tablename__ = "security_incidents"
    __table_args__ = (Index("ix_security_incidents_status_detected", "status", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="open")
    category: Mapped[str | None] = mapped_column(String(64))
    affected_records: Mapped[int] = mapped_column(default=0)
    detected_at: Mapped[datetime]
    report_due_at: Mapped[datetime]
    form_due_at: Mapped[datetime]
    reported_at: Mapped[datetime | None]
    form_submitted_at: Mapped[datetime | None]
    contained_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    review_required: Mapped[bool] = mapped_column(default=False)
    review_notes: Mapped[str] = mapped_column(Text, default="")
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordResetRequest(Base):
    """One reset request; the emailed token is stored only as a SHA-256 digest and works once within 30 minutes."""

    __tablename__ = "password_reset_requests"
    __table_args__ = (
        Index("ix_password_reset_requests_email_at", "email", "created_at"),
        Index("ix_password_reset_requests_ip_at", "ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
