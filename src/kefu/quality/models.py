"""Quality loop: root causes, feedback attributions, quarterly improvement plans and third-party audit samples."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow
from kefu.core.enums import check_in


class FeedbackSource(StrEnum):
    """Where a negative feedback item comes from."""

    CSAT = "csat"  # a post-resolution survey answered with a low rating
    CAMPAIGN = "campaign"  # a satisfaction-campaign answer with a low score on some dimension
    COMPLAINT = "complaint"  # every complaint
    QA = "qa"  # a QA review that did not pass
    BOT = "bot"  # a "not helpful" vote on a bot answer
    AUDIT = "audit"  # a third-party auditor's finding below the pass mark


class ItemStatus(StrEnum):
    """An improvement item's lifecycle."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CLOSED = "closed"


class QualityCause(Base):
    """One root-cause category of a brand's taxonomy, labelled in each locale."""

    __tablename__ = "quality_causes"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    label_zh_tw: Mapped[str] = mapped_column(String(100))
    label_zh_cn: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackAttribution(Base):
    """A negative feedback item filed under a root cause (one per item; re-attribution updates it)."""

    __tablename__ = "feedback_attributions"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_feedback_attributions_brand_occurred", "brand_id", "occurred_at"),
        check_in("source", FeedbackSource),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int]
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    cause_key: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    # When the feedback happened (survey answered, complaint received, review done…): it places the item in a quarter.
    occurred_at: Mapped[datetime]
    attributed_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    attributed_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityPlan(Base):
    """A brand's quality improvement plan for one quarter (brand-local calendar quarter, e.g. 2026Q4)."""

    __tablename__ = "quality_plans"
    __table_args__ = (UniqueConstraint("brand_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    quarter: Mapped[str] = mapped_column(String(6))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityPlanItem(Base):
    """One improvement action: its root cause, evidence, owner, due date and status until verified and closed."""

    __tablename__ = "quality_plan_items"
    __table_args__ = (
        Index("ix_quality_plan_items_brand_status_due", "brand_id", "status", "due_date"),
        check_in("status", ItemStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("quality_plans.id", ondelete="CASCADE"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    cause_key: Mapped[str | None] = mapped_column(String(32))
    # [{"source": "csat" | … | "case", "id": n}]: feedback items (by source) and cases (source "case", a ticket id).
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    due_date: Mapped[date] = mapped_column(Date)  # brand-local calendar day
    status: Mapped[str] = mapped_column(String(16), default="open")
    verification_note: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None]  # when it was first marked done (or closed without a done step)
    closed_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditSample(Base):
    """A recorded random sample of a quarter's closed cases for an external auditor (seeded, so reproducible)."""

    __tablename__ = "quality_audit_samples"
    __table_args__ = (Index("ix_quality_audit_samples_brand_quarter", "brand_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    quarter: Mapped[str] = mapped_column(String(6))
    rate: Mapped[float] = mapped_column(Float)
    seed: Mapped[str] = mapped_column(String(40))
    population: Mapped[int]
    sampled: Mapped[int]
    ticket_ids: Mapped[list[Any]] = mapped_column(default=list)
    auditor: Mapped[str] = mapped_column(String(200), default="")  # the firm the sample goes to
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditFinding(Base):
    """An external auditor's score (0–100) and finding on one sampled case (re-import replaces it)."""

    __tablename__ = "quality_audit_findings"
    __table_args__ = (
        UniqueConstraint("sample_id", "ticket_id"),
        Index("ix_quality_audit_findings_brand_created", "brand_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("quality_audit_samples.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    finding: Mapped[str] = mapped_column(Text, default="")
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
