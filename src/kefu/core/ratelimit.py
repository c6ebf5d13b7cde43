"""Sliding-window rate limits counted in the database, so every process and worker shares them.

Every limit in kefu is "at most N rows of this kind, matching this key, within the last W": failed logins per
account and per IP, password-reset requests per email and per IP, failed ticket-progress lookups per IP and per
ticket number, automatic mails per recipient. The rows are the audit trail the feature keeps anyway (login
attempts, reset requests, outbox rows); this module only counts them, all budgets of one check in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from kefu.core.db import utcnow
from kefu.core.errors import TooManyRequests


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

    def enforce(self, session: Session, budgets: Sequence[Budget], detail: str, *, now: datetime | None = None) -> None:
        """Raise TooManyRequests (429, with `retry_after` seconds) when any budget is used up."""
        if self.exhausted(session, budgets, now=now):
            raise TooManyRequests(detail, retry_after=int(self.window.total_seconds()))
