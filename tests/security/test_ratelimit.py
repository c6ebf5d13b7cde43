"""kefu.core.ratelimit: the one windowed limiter behind logins, password resets, progress lookups and auto-mails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kefu.auth.models import LoginAttempt
from kefu.core.db import utcnow
from kefu.core.errors import TooManyRequests
from kefu.core.ratelimit import Budget, WindowLimit

FAILURES = WindowLimit(LoginAttempt.at, timedelta(minutes=15), (LoginAttempt.success.is_(False),))


def _attempts(
    db: Session, n: int, *, username: str, ip: str, success: bool = False, ago: timedelta = timedelta()
) -> None:
    db.add_all(LoginAttempt(username=username, ip=ip, success=success, at=utcnow() - ago) for _ in range(n))
    db.flush()


def _budgets(user: int = 3, ip: int = 5) -> list[Budget]:
    return [Budget(LoginAttempt.username == "ana@example.com", user), Budget(LoginAttempt.ip == "10.0.0.1", ip)]


def test_counts_each_budget_inside_the_window_only(db: Session) -> None:
    _attempts(db, 2, username="ana@example.com", ip="10.0.0.1")
    _attempts(db, 1, username="bo@example.com", ip="10.0.0.1")
    _attempts(db, 4, username="ana@example.com", ip="10.0.0.9", ago=timedelta(minutes=16))  # expired
    _attempts(db, 3, username="ana@example.com", ip="10.0.0.1", success=True)  # filtered by `where`
    assert FAILURES.used(db, _budgets()) == [2, 3]
    assert FAILURES.used(db, []) == []


def test_exhausted_when_any_budget_is_used_up(db: Session) -> None:
    assert not FAILURES.exhausted(db, _budgets())
    _attempts(db, 2, username="ana@example.com", ip="10.0.0.1")
    assert not FAILURES.exhausted(db, _budgets())
    _attempts(db, 1, username="ana@example.com", ip="10.0.0.7")
    assert FAILURES.exhausted(db, _budgets())  # the account's budget (3), the IP has 2 of 5
    assert not FAILURES.exhausted(db, _budgets(user=4))
    _attempts(db, 3, username="cy@example.com", ip="10.0.0.1")
    assert FAILURES.exhausted(db, _budgets(user=4))  # now the IP's (5)


def test_the_window_slides_with_now(db: Session) -> None:
    _attempts(db, 3, username="ana@example.com", ip="10.0.0.1", ago=timedelta(minutes=10))
    assert FAILURES.exhausted(db, _budgets())
    assert not FAILURES.exhausted(db, _budgets(), now=utcnow() + timedelta(minutes=6))


def test_enforce_raises_429_with_retry_after(db: Session) -> None:
    FAILURES.enforce(db, _budgets(), "fine")
    _attempts(db, 3, username="ana@example.com", ip="10.0.0.1")
    with pytest.raises(TooManyRequests) as caught:
        FAILURES.enforce(db, _budgets(), "Too many failed login attempts.")
    assert caught.value.status == 429
    assert caught.value.detail == "Too many failed login attempts."
    assert caught.value.extra == {"retry_after": 900}


def test_all_budgets_cost_one_query(db: Session, count_queries: Callable[[], Any]) -> None:
    _attempts(db, 1, username="ana@example.com", ip="10.0.0.1")
    with count_queries() as q:
        FAILURES.used(db, _budgets())
    assert q.count == 1, str(q)


def test_every_limiter_goes_through_the_helper() -> None:
    """No module counts rows in a time window for a limit by hand again (the copies this helper replaced)."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "kefu"
    users = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "WindowLimit(" in p.read_text(encoding="utf-8")
        or "automatic_limit_reached(" in p.read_text(encoding="utf-8")
    )
    assert users == [
        "auth/service.py",
        "care/flow.py",
        "channels/email/adapter.py",
        "channels/outbox.py",
        "channels/web_chat/service.py",
        "security/reset.py",
        "tickets/progress.py",
    ]
    for path in users:
        assert "func.count(" not in (src / path).read_text(encoding="utf-8"), path
