"""The one backoff formula of kefu's retries: doubling from a base, capped, jittered to half-to-all of the wait."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

TRANSIENT_STREAK_LIMIT = 288
"""Transient failures in a row after which each further one uses an attempt (288: a day of retries at the 5-minute
cap). A lock or statement timeout that persists that long is the work's own (a statement always slower than
KEFU_DB_STATEMENT_TIMEOUT_SECONDS), so it ends dead-lettered where an operator sees it instead of retrying forever."""


def error_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error's own text (the driver's, under SQLAlchemy's wrapper), else its type's name."""
    source = getattr(exc, "orig", None) or exc
    return (str(source).strip().splitlines() or [type(source).__name__])[0][:limit]


def backoff(attempt: int, *, base: float, cap: float, jitter: bool = True) -> float:
    """Wait after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped at `cap`, jittered unless told."""
    ceiling = float(min(cap, base * 2 ** max(attempt - 1, 0)))
    # Half to all of it: work failed together (an outage) comes back spread out, never sooner than half the wait.
    return ceiling * (0.5 + random.random() / 2) if jitter else ceiling


def transient_backoff(attempts_used: int, streak: int, *, base: float, cap: float) -> float:
    """Wait after the `streak`-th transient failure in a row (lock or statement timeout, database unreachable).

    Such a failure uses up no attempt, but the doubling goes on from the level of the attempts already used, one step
    per failure in the row: a long outage is not hammered at the rate of the attempt it interrupted.
    """
    return backoff(max(attempts_used, 1) + max(streak, 1) - 1, base=base, cap=cap)


def uses_attempt(transient: bool, streak: int) -> bool:
    """Whether a failure uses up an attempt: every other failure, a transient one from the streak limit on.

    `streak` counts the transient failures in a row, this one included.
    """
    return not transient or streak >= TRANSIENT_STREAK_LIMIT


class LoopOutage:
    """A background loop's failures (the scheduler's tick, the channel sweep): while the database cannot serve, one
    warning line when the outage starts and waits doubling from the loop's own interval up to `cap`; anything else is
    logged with its traceback. A loop ticking every second must not write a traceback a second for a whole outage."""

    def __init__(self, log: logging.Logger, what: str, *, cap: float = 5.0) -> None:
        self.log, self.what, self.cap = log, what, cap
        self.streak = 0

    def failed(self, exc: BaseException, interval: float) -> float:
        """Record a failure; the seconds to wait before the next try."""
        from kefu.core.db import transient_db_error

        if not transient_db_error(exc):
            self.log.error("%s failed", self.what, exc_info=exc)
            return interval
        self.streak += 1
        if self.streak == 1:
            self.log.warning(
                "%s: the database cannot serve (%s); retrying quietly until it is back", self.what, error_line(exc)
            )
        return max(interval, backoff(self.streak, base=max(interval, 0.2), cap=self.cap))

    def ok(self) -> None:
        """A pass went through: the outage (if any) is over."""
        if self.streak:
            self.log.warning("%s: the database is back after %d failed tries", self.what, self.streak)
        self.streak = 0


RETRY_AFTER_CAP_SECONDS = 3600.0
"""The longest wait a provider's Retry-After may impose on a reply: a date years away must not park it for days."""


def retry_after_seconds(value: str | None, *, cap: float = RETRY_AFTER_CAP_SECONDS) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), 0 to `cap`; None when absent or bad."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), cap)
