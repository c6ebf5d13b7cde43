"""One compensation owed to a customer: why, on what basis, how much, and where it stands in review."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from kefu.core.db import Base, utcnow
from kefu.core.enums import check_in, validate_member


class CompensationReason(StrEnum):
    """Why the customer is owed: a breached SLA target, a handling error a lead found, a system outage."""

    SLA_BREACH = "sla_breach"
    HANDLING_ERROR = "handling_error"
    OUTAGE = "outage"


class CompensationStatus(StrEnum):
    """Where an entry stands in review."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    GRANTED = "granted"
    REJECTED = "rejected"


class CompensationUnit(StrEnum):
    """What the credit is counted in (a brand's ``settings["compensation"]["unit"]``)."""

    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


class Compensation(Base):
    """A proposed, approved, granted or rejected credit of `amount` `unit` for `basis_minutes` of lost service.

    `source_key` makes proposals idempotent: ``sla:<ticket>:<target>`` for a breached SLA target,
    ``outage:<broadcast>:<customer>`` for an outage notice; manual entries have none. `reason`, `status` and `unit`
    are closed sets, checked on assignment (422) and by the database (a row written past the ORM).
    """

    __tablename__ = "compensations"
    __table_args__ = (
        Index("ix_compensations_brand_status", "brand_id", "status", "created_at"),
        check_in("reason", CompensationReason),
        check_in("status", CompensationStatus),
        check_in("unit", CompensationUnit),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_broadcasts.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    basis_minutes: Mapped[int]
    factor: Mapped[float]
    amount: Mapped[int]
    unit: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CompensationStatus.PROPOSED.value)
    note: Mapped[str] = mapped_column(String(500), default="")
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("reason", "status", "unit")
    def _closed_set(self, key: str, value: Any) -> Any:
        # The one gate every ORM write passes (service, jobs, imports); the CHECKs catch writes past the ORM.
        enum = {"reason": CompensationReason, "status": CompensationStatus, "unit": CompensationUnit}[key]
        member = validate_member(enum, value, f"compensation {key}")
        return None if member is None else member.value
