"""CSAT surveys (one per ticket) and satisfaction campaigns with per-dimension answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

CAMPAIGN_STATUSES = ("draft", "running", "closed")


class CsatSurvey(Base):
    """The post-resolution survey of one ticket: sent on the ticket's channel, answered once (1–5 stars + text)."""

    __tablename__ = "csat_surveys"
    __table_args__ = (
        Index("ix_csat_surveys_brand_sent", "brand_id", "sent_at"),
        Index("ix_csat_surveys_agent_answered", "agent_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    # Who resolved the ticket, frozen at send time so later reassignment does not move the score.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16), default="zh-TW")
    resolved_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    rating: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None]


class SurveyCampaign(Base):
    """A periodic satisfaction survey over several dimensions to customers active in the last N days."""

    __tablename__ = "survey_campaigns"
    __table_args__ = (Index("ix_survey_campaigns_brand_id_id", "brand_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # [{key, label_zh, label_en}]
    dimensions: Mapped[list[Any]] = mapped_column(default=list)
    active_days: Mapped[int] = mapped_column(default=90)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    message_zh: Mapped[str] = mapped_column(Text, default="")
    message_en: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    launched_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]


class CampaignRecipient(Base):
    """One customer invited to a campaign; answers once."""

    __tablename__ = "survey_campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaigns.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16), default="zh-TW")
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    comment: Mapped[str] = mapped_column(Text, default="")


class CampaignAnswer(Base):
    """A 1–5 score for one dimension from one recipient."""

    __tablename__ = "survey_campaign_answers"
    __table_args__ = (
        UniqueConstraint("recipient_id", "dimension"),
        Index("ix_survey_campaign_answers_campaign_dimension", "campaign_id", "dimension"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaigns.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("survey_campaign_recipients.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(String(64))
    score: Mapped[int]
