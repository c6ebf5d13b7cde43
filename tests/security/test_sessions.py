"""Re-authentication for sensitive account changes; revocation reaches tokens, sessions and open WebSockets."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

PASSWORD = "correct horse 1"


def _login(client: Any, email: str) -> tuple[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200
    return str(r.json()["csrf_token"]), str(r.cookies.get("kefu_session"))


def _closed_with(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as exc:
        while True:
            ws.receive_json()
    return int(exc.value.code)


def test_password_change_needs_current_password_and_a_session(client: Any, make: Any) -> None:
    agent = make.agent("agent", [make.brand()])
    token = make.token(agent)
    url = f"/api/v1/agents/{agent.id}"
    assert (
        client.patch(url, json={"password": "new password 12", "current_password": PASSWORD}, headers=token).status_code
        == 403
    )
    csrf, _ = _login(client, agent.email)
    h = {"X-CSRF-Token": csrf}
    assert client.patch(url, json={"password": "new password 12"}, headers=h).status_code == 403
    assert (
        client.patch(url, json={"password": "new password 12", "current_password": "wrong!"}, headers=h).status_code
        == 403
    )
    r = client.patch(url, json={"password": "new password 12", "current_password": PASSWORD}, headers=h)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/me").status_code == 200  # the session that changed it stays signed in
    assert client.get("/api/v1/me", headers=token).status_code == 401  # every API token is revoked
    # Token minting likewise.
    assert client.post("/api/v1/tokens", json={"name": "ci"}, headers=h).status_code == 403
    ok = client.post("/api/v1/tokens", json={"name": "ci", "current_password": "new password 12"}, headers=h)
    assert ok.status_code == 201


def test_wrong_current_password_counts_towards_the_lockout(client: Any, make: Any) -> None:
    agent = make.agent("agent", [make.brand()])
    csrf, _ = _login(client, agent.email)
    codes = [
        client.post(
            "/api/v1/tokens", json={"name": "x", "current_password": "guess"}, headers={"X-CSRF-Token": csrf}
        ).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [403] * 5 and codes[5] == 429


def test_password_change_revokes_other_sessions_and_closes_their_sockets(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    token = make.token(agent)["Authorization"].split(" ", 1)[1]
    _, other_cookie = _login(client, agent.email)  # another browser
    client.cookies.clear()
    csrf, _ = _login(client, agent.email)
    with (
        client.websocket_connect(f"/api/v1/ws?token={token}") as tws,
        client.websocket_connect("/api/v1/ws", headers={"Cookie": f"kefu_session={other_cookie}"}) as sws,
    ):
        assert tws.receive_json()["op"] == "hello" and sws.receive_json()["op"] == "hello"
        body = {"password": "brand new pass 1", "current_password": PASSWORD}
        assert client.patch(f"/api/v1/agents/{agent.id}", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert _closed_with(tws) == 4401
        assert _closed_with(sws) == 4401
    jar = dict(client.cookies)
    client.cookies.clear()
    client.cookies.set("kefu_session", other_cookie)
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()
    client.cookies.update(jar)
    assert client.get("/api/v1/me").status_code == 200


def test_logout_closes_that_sessions_websocket_only(client: Any, make: Any) -> None:
    agent = make.agent("agent", [make.brand()])
    token = make.token(agent)["Authorization"].split(" ", 1)[1]
    csrf, cookie = _login(client, agent.email)
    with (
        client.websocket_connect("/api/v1/ws", headers={"Cookie": f"kefu_session={cookie}"}) as sws,
        client.websocket_connect(f"/api/v1/ws?token={token}") as tws,
    ):
        sws.receive_json()
        tws.receive_json()
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert _closed_with(sws) == 4401
        tws.send_json({"op": "ping"})
        assert tws.receive_json() == {"op": "pong"}  # the token's socket is unaffected


def test_password_reset_revokes_api_tokens(client: Any, make: Any) -> None:
    from urllib.parse import parse_qs, urlsplit

    from kefu.core import runtime
    from kefu.security import reset

    sent: list[str] = []
    with runtime.override(reset.RESET_SENDER, lambda agent_id, email, name, link, locale: sent.append(link)):
        agent = make.agent("agent", [make.brand()])
        h = make.token(agent)
        assert client.post("/api/v1/auth/password-reset", json={"email": agent.email}).status_code == 202
        query = parse_qs(urlsplit(sent[0]).query)
        assert urlsplit(sent[0]).path == "/reset-password" and query["lang"] == [agent.locale]
        page = client.get(f"/reset-password?token={query['token'][0]}&lang=en")
        assert page.status_code == 200 and "Reset your password" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        form = {"token": query["token"][0], "password": "a new password", "password2": "a new password"}
        done = client.post("/reset-password?lang=zh-CN", data=form)
        assert done.status_code == 200 and "密码已更新" in done.text
        assert client.get("/api/v1/me", headers=h).status_code == 401
        again = client.post("/reset-password?lang=zh-TW", data=form)
        assert again.status_code == 422 and "重設連結無效" in again.text


def test_reset_page_localized_and_mismatch(client: Any) -> None:
    for lang, text in (("zh-TW", "重設密碼"), ("zh-CN", "重置密码"), ("en", "Reset your password")):
        r = client.get(f"/reset-password?lang={lang}")
        assert r.status_code == 200 and text in r.text
    r = client.post("/reset-password?lang=en", data={"token": "x" * 20, "password": "a" * 12, "password2": "b" * 12})
    assert r.status_code == 422 and "The two passwords" in r.text


def test_a_brand_change_closes_the_agents_token_socket(client: Any, make: Any) -> None:
    """The socket keeps the principal it was opened with: a removed brand's topics must not keep flowing."""
    a, b = make.brand(), make.brand()
    admin = make.token(make.agent("admin", [a, b]))
    agent = make.agent("agent", [a, b])
    token = make.token(agent)["Authorization"].split(" ", 1)[1]
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert ws.receive_json()["op"] == "hello"
        ws.send_json({"op": "subscribe", "topics": [f"brand:{b.id}"]})
        assert ws.receive_json()["topics"] == [f"brand:{b.id}"]
        r = client.patch(f"/api/v1/agents/{agent.id}", json={"brand_ids": [a.id]}, headers=admin)
        assert r.status_code == 200, r.text
        assert _closed_with(ws) == 4401  # the console reconnects with its current brands


def test_a_busy_socket_is_still_rechecked(client: Any, make: Any, db: Any, monkeypatch: Any) -> None:
    """Events arriving faster than the recheck interval must not postpone it (a change the bus never announced)."""
    import threading
    import time

    from sqlalchemy import update

    from kefu.auth.models import Agent
    from kefu.core.events import Event, get_bus
    from kefu.web import ws as ws_module

    monkeypatch.setattr(ws_module, "RECHECK_SECONDS", 0.3)
    brand = make.brand()
    agent = make.agent("agent", [brand])
    token = make.token(agent)["Authorization"].split(" ", 1)[1]
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert ws.receive_json()["op"] == "hello"
        ws.send_json({"op": "subscribe", "topics": [f"brand:{brand.id}"]})
        assert ws.receive_json()["op"] == "subscribed"
        db.execute(update(Agent).where(Agent.id == agent.id).values(is_active=False))  # behind the service's back
        db.commit()
        stop = threading.Event()

        def chatter() -> None:
            while not stop.is_set():
                get_bus().publish(Event(type="ticket.updated", data={"id": 1}, topics=(f"brand:{brand.id}",)))
                time.sleep(0.05)

        t = threading.Thread(target=chatter, daemon=True)
        t.start()
        try:
            assert _closed_with(ws) == 4401
        finally:
            stop.set()
            t.join(5)
