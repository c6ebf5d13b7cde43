"""Core tables: scheduler leases (leader election that works on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base


class SchedulerLease(Base):
    """Who currently leads a named singleton (e.g. the periodic-job scheduler), until expires_at."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class PeriodicRun(Base):
    """Last time each periodic job was enqueued, so a new leader continues the cadence instead of restarting it."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_enqueued_at: Mapped[datetime]
