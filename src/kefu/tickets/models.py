"""Tickets with human-readable numbers, links, timeline, categories, custom fields and classification feedback."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column, validates

from kefu.core import configcache
from kefu.core.db import Base, utcnow
from kefu.core.enums import ChannelKind, StrEnumType, check_in, validate_member


class TicketStatus(StrEnum):
    """Lifecycle of a ticket (transitions in kefu.tickets.service.TRANSITIONS)."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    """Ticket priority, lowest first (the order routing and SLA escalation step through)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


TICKET_STATUSES: tuple[TicketStatus, ...] = tuple(TicketStatus)
OPEN_STATUSES: tuple[TicketStatus, ...] = (
    TicketStatus.NEW,
    TicketStatus.OPEN,
    TicketStatus.PENDING,
    TicketStatus.ON_HOLD,
)
PRIORITIES: tuple[TicketPriority, ...] = tuple(TicketPriority)
LINK_KINDS = ("related", "duplicate", "parent_child")
FIELD_TYPES = ("text", "textarea", "integer", "number", "boolean", "date", "select", "multiselect", "email", "url")


class TicketCounter(Base):
    """Per-brand sequence for ticket numbers (row-locked increment works on SQLite and PostgreSQL)."""

    __tablename__ = "ticket_counters"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Ticket(Base):
    """A case to be resolved, e.g. KF-000123."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_brand_updated", "brand_id", "updated_at", "id"),
        Index("ix_tickets_brand_status_updated", "brand_id", "status", "updated_at", "id"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_tickets_team_status", "team_id", "status"),
        # Keyset lists filtered by assignee/team sorted by recency, and the auto-close sweep.
        Index("ix_tickets_assignee_updated", "assignee_id", "updated_at", "id"),
        Index("ix_tickets_team_updated", "team_id", "updated_at", "id"),
        Index("ix_tickets_brand_created", "brand_id", "created_at", "id"),
        Index("ix_tickets_status_resolved", "status", "resolved_at"),
        # Search documents (kefu.tickets.search): GIN on PostgreSQL; SQLite answers with LIKE, so its twin index is
        # an empty partial index (WHERE 0) that only keeps the schema identical across backends.
        Index("ix_tickets_search", "search_vector", postgresql_using="gin", sqlite_where=text("0")),
        check_in("status", TicketStatus),
        check_in("priority", TicketPriority),
        check_in("channel", ChannelKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TicketStatus] = mapped_column(StrEnumType(TicketStatus, 16), default=TicketStatus.NEW)
    priority: Mapped[TicketPriority] = mapped_column(StrEnumType(TicketPriority, 16), default=TicketPriority.NORMAL)
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[ChannelKind] = mapped_column(StrEnumType(ChannelKind, 32), default=ChannelKind.API)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # 0501 additions
    language: Mapped[str | None] = mapped_column(String(16))
    category_source: Mapped[str | None] = mapped_column(String(16))  # manual | auto | rule
    category_confidence: Mapped[float | None] = mapped_column(Float)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    last_public_update_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # 0901: search document (tsvector on PostgreSQL, token text on SQLite), maintained by kefu.tickets.search.
    search_vector: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), deferred=True)

    @validates("status", "priority", "channel")
    def _closed_set(self, key: str, value: Any) -> Any:
        # Every path that sets these (services, bot, imports) gets a 422 for a value outside the set, not a 500.
        enum = {"status": TicketStatus, "priority": TicketPriority, "channel": ChannelKind}[key]
        return validate_member(enum, value, f"ticket {key}")


class TicketLink(Base):
    """A relation between two tickets of one brand; for parent_child the source is the parent."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketActivity(Base):
    """One timeline entry: a public update the customer may see, or an internal note/system record."""

    __tablename__ = "ticket_activities"
    __table_args__ = (Index("ix_ticket_activities_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # comment | status | merge | split | route | ...
    public: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketCategory(Base):
    """A brand's ticket category with bilingual labels and classifier keywords."""

    __tablename__ = "ticket_categories"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    label_zh: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    parent_key: Mapped[str | None] = mapped_column(String(64))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketFieldDefinition(Base):
    """An admin-defined custom field: type, options and validation for `Ticket.custom_fields[key]`."""

    __tablename__ = "ticket_field_definitions"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    label_zh: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(default=False)
    options: Mapped[list[Any]] = mapped_column(default=list)
    validation: Mapped[dict[str, Any]] = mapped_column(default=dict)  # min, max, min_length, max_length, pattern
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClassificationFeedback(Base):
    """An agent's correction of an automatic category, kept as training data."""

    __tablename__ = "classification_feedback"
    __table_args__ = (Index("ix_classification_feedback_brand_id_id", "brand_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    corrected: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgressQueryAttempt(Base):
    """A public progress lookup; failures per IP / ticket number drive the rate limit across processes."""

    __tablename__ = "progress_query_attempts"
    __table_args__ = (
        Index("ix_progress_query_attempts_ip_at", "ip", "at"),
        Index("ix_progress_query_attempts_number_at", "number", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    success: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(Session, "before_flush")
def _search_before_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    from kefu.tickets import search

    search.before_flush(session, flush_context)


@event.listens_for(Session, "after_flush")
def _search_after_flush(session: Session, flush_context: UOWTransaction) -> None:
    from kefu.tickets import search

    search.after_flush(session, flush_context)


for _model in (TicketCategory, TicketFieldDefinition, ClassificationFeedback):
    configcache.watch(_model)  # taxonomy, field rules and the category model are cached per process
