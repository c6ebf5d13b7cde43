"""Consent history, data-subject requests, the deletion ledger and retention (de-identification) policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

CONSENT_PURPOSES = ("tracking", "personalization", "secondary_use")
REQUEST_KINDS = ("export", "erase", "correction")


class ConsentEvent(Base):
    """One change of a customer's consent for a purpose; the latest event per purpose is the current state."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_customer_purpose", "customer_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent | customer | import | system
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PrivacyRequest(Base):
    """A data-subject request (export, erasure, correction): pending → verified (identity checked) → completed.

    Rows written by the one-step export/erase endpoints are born completed; queued ones go through
    kefu.privacy.requests (statuses pending, verified, completed, rejected).
    """

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_brand_id_id", "brand_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(index=True)  # no FK: the record outlives erasure
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="completed")
    reason: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    # How the request reached us (email, phone, letter, counter, portal, other) and its statutory due date.
    channel: Mapped[str] = mapped_column(String(16), default="other")
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # The identity-check step: who checked, when, and how (PII in the note is masked before it is stored).
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    verification_note: Mapped[str] = mapped_column(String(500), default="")


class DeletionLedger(Base):
    """What an erasure did, to whom (as a keyed hash, never cleartext), by whom and when."""

    __tablename__ = "deletion_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(index=True)
    customer_id: Mapped[int] = mapped_column(index=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    identifier_hashes: Mapped[list[Any]] = mapped_column(default=list)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionPolicy(Base):
    """How long a brand keeps closed conversations and tickets identifiable (default 5 years)."""

    __tablename__ = "retention_policies"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)
    years: Mapped[int] = mapped_column(default=5)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeidentifiedRecord(Base):
    """Marks a conversation, ticket or customer as already de-identified (so batches never redo work)."""

    __tablename__ = "deidentified_records"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))  # conversation | ticket | customer
    record_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))  # retention | erasure
    at: Mapped[datetime] = mapped_column(default=utcnow)
