"""Customers, their channel identities, and B2B organizations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from kefu.core.db import Base, utcnow
from kefu.customers.phones import check_phone, phone_key


class Organization(Base):
    """A B2B customer account (法人客戶), optionally served by a dedicated team."""

    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    dedicated_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A person contacting the brand on any channel."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_brand_id_id", "brand_id", "id"),
        Index("ix_customers_brand_id_email", "brand_id", "email"),
        Index("ix_customers_brand_id_phone_key", "brand_id", "phone_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    # `phone` as digits (kefu.customers.phones.phone_key), kept in step by the validator below: search compares it.
    phone_key: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    cumulative_spend: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    tier: Mapped[int] = mapped_column(default=1)
    vip: Mapped[bool] = mapped_column(default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @validates("phone")
    def _set_phone_key(self, _key: str, value: str | None) -> str | None:
        check_phone(value)  # every path that sets a number meets the same rule before anything is written
        self.phone_key = phone_key(value)
        return value

    @validates("cumulative_spend")
    def _cents(self, _key: str, value: Decimal | None) -> Decimal | None:
        # As the column stores it (2 places): a create answers "0.00" like every later read, not "0".
        return value.quantize(Decimal("0.01")) if value is not None else None


class CustomerIdentity(Base):
    """How a customer is known on one channel (email address, LINE userId, PSID, phone…)."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("brand_id", "kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerNote(Base):
    """An agent's note on a customer profile ("prefers phone calls", "VIP since 2019"), shown to every agent."""

    __tablename__ = "customer_notes"
    __table_args__ = (Index("ix_customer_notes_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


NEEDS = ("deaf", "hard_of_hearing", "blind", "low_vision")


class CustomerAccessibility(Base):
    """A customer's declared accessibility needs (sensitive: declared with consent, exported and erased)."""

    __tablename__ = "customer_accessibility"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    needs: Mapped[list[Any]] = mapped_column(default=list)  # codes from NEEDS
    note: Mapped[str] = mapped_column(String(1000), default="")  # e.g. "signs TSL; LINE preferred"
    source: Mapped[str] = mapped_column(String(16))  # customer (portal/widget) | agent (with the customer's consent)
    consent_at: Mapped[datetime]
    declared_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
