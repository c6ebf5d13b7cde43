"""Complaints (客訴, SOP form and levels) and regulator / consumer-protection cases (政府機關來函)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

COMPLAINT_LEVELS = ("normal", "dispute", "major")
COMPLAINT_STATUSES = ("received", "acknowledged", "replied", "closed")
REGULATOR_STATUSES = ("open", "replied", "closed")


class Complaint(Base):
    """A customer complaint backed by a ticket, with SOP fields and acknowledgement/reply deadlines."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_brand_received", "brand_id", "received_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    level: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="received")
    complainant_name: Mapped[str] = mapped_column(String(200))
    complainant_contact: Mapped[str] = mapped_column(String(320), default="")
    channel: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(500), default="")
    order_number: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text)
    requested_remedy: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{name, ref, content_type}]
    outcome: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    acknowledge_due_at: Mapped[datetime]
    reply_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    task_force_formed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When the deadline watch (kefu.complaints.watch) found the deadline missed and notified; once per deadline.
    acknowledge_overdue_at: Mapped[datetime | None]
    reply_overdue_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegulatorCase(Base):
    """An official letter from a regulator / consumer-protection officer, due in full within N calendar days."""

    __tablename__ = "regulator_cases"
    __table_args__ = (Index("ix_regulator_cases_brand_received", "brand_id", "received_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    agency: Mapped[str] = mapped_column(String(200))
    reference_no: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    coordination_meeting: Mapped[bool] = mapped_column(default=False)
    meeting_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadlineWarning(Base):
    """One due-soon (or, for regulator letters, overdue) notice: once per deadline and lead time."""

    __tablename__ = "deadline_warnings"
    __table_args__ = (UniqueConstraint("subject", "subject_id", "deadline", "lead_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(16))  # complaint | regulator
    subject_id: Mapped[int]
    deadline: Mapped[str] = mapped_column(String(32))  # acknowledgement | reply | regulator
    lead_minutes: Mapped[int]  # 0 = the deadline passed
    due_at: Mapped[datetime]
    warned_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(default=0)
