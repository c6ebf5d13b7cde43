"""Sliding-window rate limits counted in the database, so every process and worker shares them.

Every limit in kefu is "at most N rows of this kind, matching this key, within the last W": failed logins per
account and per IP, password-reset requests per email and per IP, failed ticket-progress lookups per IP and per
ticket number, automatic mails per recipient. The rows are the audit trail the feature keeps anyway (login
attempts, reset requests, outbox rows); this module only counts them, all budgets of one check in one query.
A public route that keeps no row of its own (opening a widget session, the leave-a-message form) is throttled per
client address by a `RouteLimit`, which writes one `request_hits` row per request and counts those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from kefu.core.db import utcnow
from kefu.core.errors import TooManyRequests
from kefu.core.models import RequestHit


@dataclass(frozen=True)
class Budget:
    """At most `limit` rows matching `key` (one account, one IP address, one recipient) per window."""

    key: ColumnElement[bool]
    limit: int


@dataclass(frozen=True)
class WindowLimit:
    """Rows timestamped by `at` (and matching every `where` condition) count while younger than `window`."""

    at: InstrumentedAttribute[datetime]
    window: timedelta
    where: tuple[ColumnElement[bool], ...] = ()

    def used(self, session: Session, budgets: Sequence[Budget], *, now: datetime | None = None) -> list[int]:
        """How many rows each budget has used within the window (one query for all of them)."""
        if not budgets:
            return []
        since = (now or utcnow()) - self.window
        counts: list[Any] = [func.coalesce(func.sum(case((b.key, 1), else_=0)), 0) for b in budgets]
        stmt = select(*counts).where(self.at >= since, or_(*(b.key for b in budgets)), *self.where)
        return [int(n) for n in session.execute(stmt).one()]

    def exhausted(self, session: Session, budgets: Sequence[Budget], *, now: datetime | None = None) -> bool:
        """True when any budget is used up (the caller quietly skips, e.g. an automatic mail)."""
        return any(n >= b.limit for n, b in zip(self.used(session, budgets, now=now), budgets, strict=True))

    def enforce(self, session: Session, budgets: Sequence[Budget], key: str, *, now: datetime | None = None) -> None:
        """Raise TooManyRequests (429, with `retry_after` seconds) said with catalog `key` when a budget is used up."""
        if self.exhausted(session, budgets, now=now):
            raise TooManyRequests.said(key).also(retry_after=int(self.window.total_seconds()))


# Hits older than this are deleted by the sweep; every RouteLimit window must be shorter.
HIT_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class RouteLimit:
    """At most `per_ip` requests from one client address to the routes sharing `bucket`, per `window`."""

    bucket: str
    per_ip: int
    window: timedelta
    detail_key: str = "err_core_too_many_requests"  # the catalog key the 429 is said with

    def hit(self, session: Session, ip: str, *, now: datetime | None = None) -> None:
        """Count this request (429 with Retry-After once the address has used its budget)."""
        now = now or utcnow()
        key = ip[:64]
        limit = WindowLimit(RequestHit.at, self.window, (RequestHit.bucket == self.bucket,))
        limit.enforce(session, [Budget(RequestHit.key == key, self.per_ip)], self.detail_key, now=now)
        session.add(RequestHit(bucket=self.bucket, key=key, at=now))
        session.flush()


def prune_hits(session: Session, *, now: datetime | None = None) -> int:
    """Delete request hits older than HIT_RETENTION; the number deleted."""
    since = (now or utcnow()) - HIT_RETENTION
    result = session.execute(delete(RequestHit).where(RequestHit.at < since))
    return int(getattr(result, "rowcount", 0) or 0)
