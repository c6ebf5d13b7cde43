"""QA scorecards, daily sample runs and the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

REVIEW_STATUSES = ("pending", "done")


class QaScorecard(Base):
    """Weighted criteria a reviewer scores 0–max; `accuracy` decides the correctness rate."""

    __tablename__ = "qa_scorecards"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # [{key, label_zh, label_en, weight, max, pass_mark}]
    criteria: Mapped[list[Any]] = mapped_column(default=list)
    pass_score: Mapped[float] = mapped_column(Float, default=80.0)  # weighted percentage
    is_default: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaSampleRun(Base):
    """One day's sampling of closed conversations for a brand (unique per day, so the job is idempotent)."""

    __tablename__ = "qa_sample_runs"
    __table_args__ = (UniqueConstraint("brand_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the brand's timezone
    rate: Mapped[float] = mapped_column(Float)
    population: Mapped[int]
    sampled: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaReview(Base):
    """A sampled conversation waiting for (or given) a scorecard review."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        UniqueConstraint("conversation_id"),
        Index("ix_qa_reviews_brand_status", "brand_id", "status", "id"),
        Index("ix_qa_reviews_brand_reviewed", "brand_id", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("qa_sample_runs.id", ondelete="SET NULL"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    scorecard_id: Mapped[int | None] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None]
    accuracy_passed: Mapped[bool | None]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
