"""Steps recorded on account-security incidents, the brands' freeze webhooks and the freeze requests sent to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow

# The ladder, in order; each step is also the key of an SLA milestone target of the security policy.
STEPS = ("intervene", "freeze", "identity_verified", "repaired")
# Ticket categories that are account-security incidents.
SECURITY_CATEGORIES = ("account_anomaly",)
FREEZE_STATUSES = ("pending", "delivered", "failed")
# 後續跟進 → 7 天內 3 次主動溝通: used when the brand has no follow-up rule for the security category, whether the
# case was repaired (anchored there) or resolved without a recorded repair (anchored at the resolution).
DEFAULT_FOLLOW_UP = {"name": "account_security.default", "attempts": 3, "within_days": 7, "first_after_hours": 24}


class SecurityStep(Base):
    """One step of the ladder on a case: who recorded it, when it happened, and a note."""

    __tablename__ = "security_incident_steps"
    __table_args__ = (
        UniqueConstraint("ticket_id", "step"),
        Index("ix_security_incident_steps_brand", "brand_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent | webhook
    note: Mapped[str] = mapped_column(Text, default="")  # the agent's words: may name the customer
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FreezeHook(Base):
    """A brand's freeze webhook: kefu cannot freeze the game/bank account itself, the brand's system can."""

    __tablename__ = "security_freeze_hooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), unique=True)
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200))  # HMAC key of X-Kefu-Signature
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FreezeRequest(Base):
    """A temporary freeze an agent asked the brand's system for; delivered by a retried job after commit."""

    __tablename__ = "security_freeze_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
