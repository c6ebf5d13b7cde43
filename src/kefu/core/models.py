"""Core tables: scheduler leases (leader election on SQLite and PostgreSQL alike), durable jobs, config versions,
request hits (rate limits of public routes that keep no other row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


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


class Job(Base):
    """A durable background job (transactional outbox): inserted with the work that causes it, deleted when done."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_priority_run_at", "status", "priority", "run_at"),
        Index("ix_jobs_key_status", "key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Jobs sharing a key run one at a time, oldest first (e.g. one customer's inbound messages and bot turns).
    key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, running, dead
    # Lower runs first among due jobs: a customer-visible send is not queued behind a backlog of bot turns.
    priority: Mapped[int] = mapped_column(SmallInteger, default=100)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=12)
    # Failures in a row the database caused (kefu.core.db.transient_db_error): they use up no attempt, but each one
    # waits longer than the last, so a long outage is not polled at one fixed rate.
    transient_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(160))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConfigVersion(Base):
    """A token that changes whenever any configuration row of the brand changes (kefu.core.configcache)."""

    __tablename__ = "config_versions"

    brand_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class RequestHit(Base):
    """One request from a client address to a throttled public route (kefu.core.ratelimit.RouteLimit counts them)."""

    __tablename__ = "request_hits"
    __table_args__ = (Index("ix_request_hits_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
