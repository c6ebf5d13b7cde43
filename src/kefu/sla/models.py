"""SLA configuration (calendars, policies, escalation contacts), per-ticket SLA state, and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core import configcache
from kefu.core.db import Base, utcnow


class SlaCalendar(Base):
    """A stored business calendar (`CalendarConfig` JSON); a team-specific row overrides the brand's of that name."""

    __tablename__ = "sla_calendars"
    __table_args__ = (UniqueConstraint("brand_id", "name", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicyRecord(Base):
    """A stored SLA policy (`SlaPolicy` JSON); matched most-specific-first, ties by position."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EscalationContact(Base):
    """Who is notified at an escalation level (team_lead falls back to the team's leads)."""

    __tablename__ = "sla_escalation_contacts"
    __table_args__ = (UniqueConstraint("brand_id", "level", "agent_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))


class TicketSla(Base):
    """SLA summary of one ticket; the sweep touches only rows whose `next_check_at` has passed."""

    __tablename__ = "ticket_sla"
    __table_args__ = (
        Index("ix_ticket_sla_next_check_at", "next_check_at"),
        Index("ix_ticket_sla_status", "status"),  # the console's SLA view: the sweep's warning/breached verdicts
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    policy_name: Mapped[str] = mapped_column(String(200))
    # Snapshot of the policy applied, so editing/deleting a policy never breaks running clocks.
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")  # worst target status
    breached: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(default=0)
    next_check_at: Mapped[datetime | None]
    survey_sent_at: Mapped[datetime | None]
    milestones: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketSlaTarget(Base):
    """One target's deadline and notification state for a ticket."""

    __tablename__ = "ticket_sla_targets"
    __table_args__ = (
        UniqueConstraint("ticket_id", "key"),
        Index("ix_ticket_sla_targets_brand_due", "brand_id", "due_at"),
        # The console's SLA view finds unmet targets past their warning/due time; partial, so met targets (most of
        # them, all with past deadlines) stay out of the index.
        Index(
            "ix_ticket_sla_targets_open_warn",
            "warn_at",
            postgresql_where=text("met_at IS NULL"),
            sqlite_where=text("met_at IS NULL"),
        ),
        Index(
            "ix_ticket_sla_targets_open_due",
            "due_at",
            postgresql_where=text("met_at IS NULL"),
            sqlite_where=text("met_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(200))
    business: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)


class SlaPause(Base):
    """An interval during which a ticket's SLA clocks stood still (status pending on the customer)."""

    __tablename__ = "ticket_sla_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(32), default="pending")


class Notification(Base):
    """A persisted notification for one agent (also pushed on topic `agent:<id>`)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_agent_id_id", "agent_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class ProgressLapse(Base):
    """A case that went past its progress-update interval (seed: 進度同步 每30分鐘) without a public update."""

    __tablename__ = "progress_lapses"
    __table_args__ = (
        UniqueConstraint("ticket_id", "due_at"),
        Index("ix_progress_lapses_brand_due", "brand_id", "due_at"),
        Index(
            "ix_progress_lapses_open",
            "ticket_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    interval_minutes: Mapped[int]
    last_update_at: Mapped[datetime]  # the update (or case opening) the interval counts from
    due_at: Mapped[datetime]
    noticed_at: Mapped[datetime]
    # When the next public update came (updated) or the case left the clock (resolved / pending): the lapse ends.
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))  # updated | resolved | pending | out_of_scope


for _model in (SlaPolicyRecord, SlaCalendar, EscalationContact):
    configcache.watch(_model)  # SLA configuration is cached per process (kefu.sla.configuration)
