"""Password reset: emailed single-use hashed token (30 min), rate limited, revokes sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select


@pytest.fixture
def outbox() -> Any:
    from kefu.core import runtime
    from kefu.security import reset

    sent: list[tuple[str, str]] = []
    with runtime.override(reset.RESET_SENDER, lambda agent_id, email, name, link, locale: sent.append((email, link))):
        yield sent


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_reset_flow_revokes_sessions(client: Any, make: Any, db: Any, outbox: Any) -> None:
    from kefu.security.models import PasswordResetRequest

    agent = make.agent()
    login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert login.status_code == 200
    client.cookies.clear()
    cookie = login.cookies.get("kefu_session")
    r = client.post("/api/v1/auth/password-reset", json={"email": agent.email.upper()})
    assert r.status_code == 202 and len(outbox) == 1 and outbox[0][0] == agent.email
    token = _token(outbox[0][1])
    stored = db.scalar(select(PasswordResetRequest.token_hash).where(PasswordResetRequest.agent_id == agent.id))
    assert stored and token not in stored and len(stored) == 64
    bad = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert bad.status_code == 422
    ok = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a brand new pass"})
    assert ok.status_code == 204, ok.text
    again = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "another new pass"})
    assert again.status_code == 422  # single use
    client.cookies.set("kefu_session", cookie)
    assert client.get("/api/v1/me").status_code == 401  # old session revoked
    client.cookies.clear()
    assert (
        client.post("/api/v1/auth/login", json={"email": agent.email, "password": "a brand new pass"}).status_code
        == 200
    )


def test_unknown_email_same_answer_and_expiry(client: Any, make: Any, db: Any, outbox: Any) -> None:
    from kefu.core.db import utcnow
    from kefu.security.models import PasswordResetRequest

    r = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert r.status_code == 202 and outbox == []
    agent = make.agent()
    client.post("/api/v1/auth/password-reset", json={"email": agent.email})
    row = db.scalar(select(PasswordResetRequest).where(PasswordResetRequest.agent_id == agent.id))
    assert row.expires_at - row.created_at == timedelta(minutes=30)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    r = client.post("/api/v1/auth/password-reset/confirm", json={"token": _token(outbox[0][1]), "password": "x" * 12})
    assert r.status_code == 422


def test_reset_requests_are_rate_limited(client: Any, make: Any, outbox: Any) -> None:
    agent = make.agent()
    codes = [client.post("/api/v1/auth/password-reset", json={"email": agent.email}).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429] and len(outbox) == 3
    ip_codes = [
        client.post("/api/v1/auth/password-reset", json={"email": f"x{i}@example.com"}).status_code for i in range(20)
    ]
    assert 429 in ip_codes  # per-IP limit
