"""Public widget, board and portal routes are throttled per client address (kefu.core.ratelimit.RouteLimit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def _widget_inbox(make: Any, inbox: Any) -> tuple[Any, Any]:
    brand = make.brand()
    return brand, inbox(brand, "web_chat", {"offline": True})


def _assert_429(r: Any, window: timedelta) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == str(int(window.total_seconds()))
    assert r.json()["status"] == 429


def test_widget_session_is_throttled_per_address(client: Any, make: Any, inbox: Any) -> None:
    from kefu.channels.web_chat.service import SESSIONS

    brand, ib = _widget_inbox(make, inbox)
    body = {"inbox_id": ib.id, "brand": brand.slug}
    for _ in range(SESSIONS.per_ip):
        assert client.post("/api/v1/widget/session", json=body).status_code == 200
    _assert_429(client.post("/api/v1/widget/session", json=body), SESSIONS.window)
    other = client.post("/api/v1/widget/session", json=body, headers={"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 429  # a forged header is not another address


def test_leave_message_is_throttled_per_address(client: Any, make: Any, inbox: Any) -> None:
    from kefu.channels.board.service import SUBMISSIONS

    brand, ib = _widget_inbox(make, inbox)
    for i in range(SUBMISSIONS.per_ip + 1):
        # A fresh visitor each time: minting tokens does not buy a new budget.
        token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
        body = {"name": "陳先生", "contact": "0912-345-678", "message": f"留言 {i}", "submission_id": f"sub-{i:06d}"}
        r = client.post("/api/v1/widget/leave-message", json=body, headers={"X-Kefu-Visitor": token})
        if i < SUBMISSIONS.per_ip:
            assert r.status_code == 201, r.text
    _assert_429(r, SUBMISSIONS.window)
    board = inbox(brand, "board")
    post = {"name": "陳先生", "contact": "0912-345-678", "message": "還是我"}
    _assert_429(client.post(f"/api/v1/channels/board/{board.id}", json=post), SUBMISSIONS.window)  # one bucket


def test_exempt_networks_are_not_counted(app: Any, settings: Any, make: Any, inbox: Any, monkeypatch: Any) -> None:
    """KEFU_RATE_LIMIT_EXEMPT_NETWORKS (a load-test host, an office NAT) skips the per-address count, nothing else."""
    from fastapi.testclient import TestClient

    from kefu.auth.deps import exempt_from_limits
    from kefu.channels.web_chat.service import SESSIONS

    monkeypatch.setattr(settings, "rate_limit_exempt_networks", ["10.0.0.0/8"])
    brand, ib = _widget_inbox(make, inbox)
    body = {"inbox_id": ib.id, "brand": brand.slug}
    with TestClient(app, client=("10.1.2.3", 50000)) as exempt:
        for _ in range(SESSIONS.per_ip + 5):
            assert exempt.post("/api/v1/widget/session", json=body).status_code == 200
    with TestClient(app, client=("192.0.2.7", 50000)) as other:
        for _ in range(SESSIONS.per_ip):
            assert other.post("/api/v1/widget/session", json=body).status_code == 200
        _assert_429(other.post("/api/v1/widget/session", json=body), SESSIONS.window)
    assert exempt_from_limits("::1", ("::1/128",)) and not exempt_from_limits("testclient", ("0.0.0.0/0",))
