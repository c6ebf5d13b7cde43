"""One compensation owed to a customer: why, on what basis, how much, and where it stands in review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


class Compensation(Base):
    """A proposed, approved, granted or rejected credit of `amount` `unit` for `basis_minutes` of lost service.

    `source_key` makes proposals idempotent: ``sla:<ticket>:<target>`` for a breached SLA target,
    ``outage:<broadcast>:<customer>`` for an outage notice; manual entries have none.
    """

    __tablename__ = "compensations"
    __table_args__ = (Index("ix_compensations_brand_status", "brand_id", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_broadcasts.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(16))  # sla_breach | handling_error | outage
    source_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    basis_minutes: Mapped[int]
    factor: Mapped[float]
    amount: Mapped[int]
    unit: Mapped[str] = mapped_column(String(16))  # minutes | hours | days
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed | approved | granted | rejected
    note: Mapped[str] = mapped_column(String(500), default="")
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
