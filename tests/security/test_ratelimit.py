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
    FAILURES.enforce(db, _budgets(), "err_auth_too_many_logins")
    _attempts(db, 3, username="ana@example.com", ip="10.0.0.1")
    with pytest.raises(TooManyRequests) as caught:
        FAILURES.enforce(db, _budgets(), "err_auth_too_many_logins")  # a catalog key: said in the reader's language
    assert caught.value.status == 429
    assert caught.value.detail == "Too many failed login attempts; try again later."
    assert caught.value.detail_in("zh-TW") == "登入失敗次數過多，請稍後再試。"
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
        "core/ratelimit.py",  # RouteLimit counts request hits through the helper
        "security/reset.py",
        "tickets/progress.py",
    ]
    for path in users:
        assert "func.count(" not in (src / path).read_text(encoding="utf-8"), path


# ---------------------------------------------------------------- public routes (kefu.core.ratelimit.RouteLimit)

# Unauthenticated routes that change something but are limited without a RouteLimit dependency: each names what
# limits it. Every other unauthenticated unsafe route must declare `throttled(...)`.
LIMITED_OTHERWISE: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/auth/login"): "failed logins per account and address (auth.service)",
    ("POST", "/login"): "failed logins per account and address (auth.service)",
    ("POST", "/api/v1/auth/password-reset"): "reset requests per email and address (security.reset)",
    ("POST", "/reset-password/request"): "reset requests per email and address (security.reset)",
    ("POST", "/api/v1/auth/password-reset/confirm"): "a single-use random token (security.reset)",
    ("POST", "/reset-password"): "a single-use random token (security.reset)",
    ("POST", "/api/v1/public/tickets/progress"): "failed lookups per address and number (tickets.progress)",
    ("POST", "/api/v1/public/tickets/confirm"): "failed lookups per address and number (tickets.progress)",
    ("POST", "/portal/{slug}/track"): "failed lookups per address and number (tickets.progress)",
    ("POST", "/api/v1/widget/messages"): "messages per visitor a minute (web_chat.service.VISITOR_MESSAGES)",
    ("POST", "/api/v1/widget/attachments"): "files per conversation (web_chat.service.VISITOR_UPLOADS)",
    ("POST", "/api/v1/widget/messages/{message_id}/feedback"): "one vote per bot answer (web_chat.service.vote)",
    ("POST", "/api/v1/widget/flow"): "page reports per visitor a minute (care.flow)",
    ("POST", "/api/v1/channels/api/{inbox_id}/messages"): "the inbox secret (api_channel)",
    ("POST", "/api/v1/channels/line/{inbox_id}/webhook"): "X-Line-Signature (line)",
    ("POST", "/api/v1/channels/messenger/{inbox_id}/webhook"): "X-Hub-Signature-256 (messenger)",
    ("POST", "/api/v1/channels/phone/{inbox_id}/events"): "the gateway's signature (phone)",
    ("POST", "/api/v1/surveys/csat/{token}"): "a signed survey token, one answer (surveys)",
    ("POST", "/api/v1/surveys/campaign/{token}"): "a signed survey token, one answer (surveys)",
    ("POST", "/survey/{token}"): "a signed survey token, one answer (surveys)",
    ("POST", "/survey/c/{token}"): "a signed survey token, one answer (surveys)",
    ("POST", "/api/v1/widget/verify"): "a signed identity-claim token (customers.claims)",
}


def _public_unsafe_routes(app: Any) -> list[tuple[str, Any]]:
    """(method, route) of every route that changes something and needs neither a token nor an agent's session."""
    from kefu.auth.deps import AUTHENTICATES
    from kefu.web.pages import page_context
    from tests.security.test_route_matrix import api_routes

    out = []
    for route in api_routes(list(app.routes)):
        calls, stack = set(), list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            calls.add(dep.call)
            stack.extend(dep.dependencies)
        if page_context in calls or any(getattr(call, AUTHENTICATES, False) for call in calls):
            continue
        out += [(m, route) for m in sorted(route.methods - {"GET", "HEAD", "OPTIONS"})]
    return out


def _throttle_of(route: Any) -> Any:
    from kefu.auth.deps import THROTTLE

    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if hasattr(dep.call, THROTTLE):
            return getattr(dep.call, THROTTLE)
        stack.extend(dep.dependencies)
    return None


def test_every_public_unsafe_route_is_rate_limited(app: Any) -> None:
    """Each unauthenticated POST/PUT/PATCH/DELETE route declares a RouteLimit or is listed with what limits it."""
    routes = _public_unsafe_routes(app)
    assert len(routes) > 20
    missing = [f"{m} {r.path}" for m, r in routes if _throttle_of(r) is None and (m, r.path) not in LIMITED_OTHERWISE]
    assert not missing, "declare dependencies=[Depends(throttled(...))] or list it here:\n" + "\n".join(missing)
    known = {(m, r.path) for m, r in routes}
    assert not [k for k in LIMITED_OTHERWISE if k not in known], "stale LIMITED_OTHERWISE entries"
    from kefu.core.ratelimit import HIT_RETENTION

    for _, r in routes:
        limit = _throttle_of(r)
        if limit is not None:
            assert limit.window < HIT_RETENTION and limit.per_ip > 0, r.path


def test_route_limit_window_and_pruning(db: Session) -> None:
    from kefu.core.models import RequestHit
    from kefu.core.ratelimit import HIT_RETENTION, RouteLimit, prune_hits

    limit = RouteLimit("test", per_ip=2, window=timedelta(minutes=1))
    start = utcnow()
    limit.hit(db, "10.0.0.1", now=start)
    limit.hit(db, "10.0.0.1", now=start)
    with pytest.raises(TooManyRequests):
        limit.hit(db, "10.0.0.1", now=start)
    limit.hit(db, "10.0.0.2", now=start)  # another address has its own budget
    limit.hit(db, "10.0.0.1", now=start + timedelta(minutes=1, seconds=1))  # the window slid
    assert prune_hits(db, now=start + HIT_RETENTION + timedelta(minutes=1)) == 3
    assert db.query(RequestHit).filter(RequestHit.bucket == "test").count() == 1
