"""Raised threshold alerts, plus the indexes the dashboard's aggregates need on other capabilities' tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.bot.models import BotState
from kefu.complaints.models import Complaint, RegulatorCase
from kefu.conversations.models import Conversation, Message
from kefu.core.db import Base, utcnow
from kefu.surveys.models import CsatSurvey
from kefu.tickets.models import Ticket

ALERT_KINDS = ("first_response", "backlog", "anger_spike")


class AnalyticsAlert(Base):
    """A threshold alert; active while `cleared_at` is null (one active row per brand and kind)."""

    __tablename__ = "analytics_alerts"
    __table_args__ = (Index("ix_analytics_alerts_brand_kind_cleared", "brand_id", "kind", "cleared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]


# Range scans of the dashboard: resolutions per brand, conversations per brand and per customer (72 h
# re-contact check), and recent customer messages per brand (anger spike). Declared here so the analytics
# migration owns them and the models-vs-migrations check sees them.
Index("ix_tickets_brand_resolved", Ticket.__table__.c.brand_id, Ticket.__table__.c.resolved_at)
Index("ix_conversations_brand_created", Conversation.__table__.c.brand_id, Conversation.__table__.c.created_at)
Index("ix_conversations_customer_created", Conversation.__table__.c.customer_id, Conversation.__table__.c.created_at)
Index("ix_messages_brand_created", Message.__table__.c.brand_id, Message.__table__.c.created_at)
# The stat job's touched-hours scan (kefu.analytics.stats): conversations and bot states changed since its last run.
Index("ix_conversations_brand_updated", Conversation.__table__.c.brand_id, Conversation.__table__.c.updated_at)
Index("ix_bot_states_updated", BotState.__table__.c.updated_at)
# Agent CSAT is keyed by the answer time: the stat rollups read a period's edge hours (and the job its chunks) by
# (brand, answered_at) instead of scanning the brand's surveys.
Index("ix_csat_surveys_brand_answered", CsatSurvey.__table__.c.brand_id, CsatSurvey.__table__.c.answered_at)
# Bot containment asks "did the bot reply in this conversation?" per conversation; a partial index keeps that a
# lookup in a small index instead of a scan of every message when few messages are the bot's.
Index(
    "ix_messages_bot_replies",
    Message.__table__.c.conversation_id,
    postgresql_where=text("sender_type = 'bot' AND is_note IS false"),
    sqlite_where=text("sender_type = 'bot' AND is_note IS 0"),
)
# The stat job's touched-hours scan of complaints and regulator cases, and the regulator metric's count of
# unanswered cases past their due date (few rows: a small partial index instead of the period's cases).
Index("ix_complaints_brand_updated", Complaint.__table__.c.brand_id, Complaint.__table__.c.updated_at)
Index("ix_regulator_cases_brand_updated", RegulatorCase.__table__.c.brand_id, RegulatorCase.__table__.c.updated_at)
Index(
    "ix_regulator_cases_unanswered",
    RegulatorCase.__table__.c.brand_id,
    RegulatorCase.__table__.c.received_at,
    postgresql_where=text("replied_at IS NULL AND closed_at IS NULL"),
    sqlite_where=text("replied_at IS NULL AND closed_at IS NULL"),
)


class TicketHourRollup(Base):
    """Tickets created per brand, UTC hour and channel (kefu.analytics.rollups); dashboards read these, not tickets.

    Hours rather than days: any brand's local day (whole-hour UTC offsets) and any period's whole hours are sums
    of rows, so a rollup answer equals the direct query exactly.
    """

    __tablename__ = "analytics_ticket_hours"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)  # hours since 1970-01-01 UTC
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[int] = mapped_column(default=0)


class RollupState(Base):
    """How far a rollup is complete: every hour before `complete_until` (hours since epoch) is rolled up."""

    __tablename__ = "analytics_rollup_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    complete_until: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketStatRollup(Base):
    """Per brand and block of hours: count, sum and range of one (metric, key) (kefu.analytics.stats).

    `span` is the block's length in hours (1, 24, 192, 768 or 6144), `hour` its first hour (hours since 1970-01-01 UTC,
    a multiple of `span`); `key` is a histogram bin, bucket, category, rating, SLA kind or agent id.
    """

    __tablename__ = "analytics_ticket_stats"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    span: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    lo: Mapped[float | None] = mapped_column(Float)
    hi: Mapped[float | None] = mapped_column(Float)


ORG_REPORT_PERIODS = ("monthly", "quarterly")
ORG_REPORT_LOCALES = ("zh-TW", "zh-CN", "en")


class OrgReportSettings(Base):
    """How an organization (法人客戶) receives its periodic operations report: period, recipients, language, on/off."""

    __tablename__ = "org_report_settings"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    period: Mapped[str] = mapped_column(String(16), default="monthly")  # ORG_REPORT_PERIODS
    locale: Mapped[str] = mapped_column(String(8), default="zh-TW")  # ORG_REPORT_LOCALES
    recipients: Mapped[list[Any]] = mapped_column(default=list)  # validated, lower-cased e-mail addresses
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgReport(Base):
    """One organization's report for one period: unique per (organization, period) so it is sent exactly once.

    `data` holds the computed figures (counts and rates only, never a customer's name or address), so a past
    report downloads exactly as it was sent even after later edits to the tickets.
    """

    __tablename__ = "org_reports"
    __table_args__ = (
        UniqueConstraint("organization_id", "period_key", name="uq_org_reports_org_period"),
        Index("ix_org_reports_brand_created", "brand_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(String(16))  # 2026-11 (monthly) or 2026-Q4 (quarterly)
    period: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime]
    end: Mapped[datetime]
    locale: Mapped[str] = mapped_column(String(8))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | no_mailbox | no_recipients
    outbox_ids: Mapped[list[Any]] = mapped_column(default=list)
    triggered_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BrandReport(Base):
    """A brand's weekly report or monthly white paper mailed for one period: unique per (brand, kind, period).

    The row is inserted in the transaction that queues the mails, so two workers or a rerun never send twice.
    """

    __tablename__ = "brand_reports"
    __table_args__ = (
        UniqueConstraint("brand_id", "kind", "period_key", name="uq_brand_reports_brand_kind_period"),
        Index("ix_brand_reports_brand_created", "brand_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # weekly | monthly
    period_key: Mapped[str] = mapped_column(String(16))  # 2026-W49 (weekly) or 2026-11 (monthly)
    start: Mapped[datetime]
    end: Mapped[datetime]
    recipients: Mapped[list[Any]] = mapped_column(default=list)  # agent ids
    outbox_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
