"""A recorded idempotent create: who sent which key to which route, the request's fingerprint and what it made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


class IdempotencyKey(Base):
    """One committed create made under an Idempotency-Key; written in the create's own transaction."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # The one rule: a (caller, route, key) is committed at most once; a second commit attempt fails here.
        UniqueConstraint("scope", "route", "key", name="uq_idempotency_keys_scope_route_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # "token:<id>" or "agent:<id>" (session callers)
    route: Mapped[str] = mapped_column(String(200))  # method and route template, e.g. "POST /api/v1/tickets"
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and canonical JSON body
    status_code: Mapped[int]
    resource_id: Mapped[int]  # the created row, re-read on replay (no response body, so no personal data, kept)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
