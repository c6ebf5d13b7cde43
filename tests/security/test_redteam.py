"""Red-team pass (2026-12-07): holes found by reading the code as an attacker, each fixed where its rule lives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from kefu.conversations.commands import CreateConversation

PASSWORD = "correct horse 1"


def _recv(ws: Any, op: str) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.receive_text())
        if msg["op"] == op:
            return msg


def _widget_token(client: Any, make: Any) -> str:
    from kefu.brands.service import create_inbox

    ib = create_inbox(make.db, make.brand(), kind="web_chat", name="chat", config={}, actor=None, bot=False)
    make.db.commit()
    return str(client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"])


# ---------------------------------------------------------------- agent socket: revocation topics are not the client's


def test_unsubscribing_the_revocation_topics_does_not_outlive_a_logout(client: Any, make: Any) -> None:
    """A client that unsubscribes `auth:*` used to keep its socket (and brand events) for a minute after logout."""
    from kefu.core.events import Event, get_bus

    brand = make.brand()
    agent = make.agent("agent", [brand])
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    csrf, cookie = r.json()["csrf_token"], r.cookies.get("kefu_session")
    sessions = client.get("/api/v1/me/sessions").json()
    assert sessions
    with client.websocket_connect("/api/v1/ws", headers={"Cookie": f"kefu_session={cookie}"}) as ws:
        _recv(ws, "hello")
        ws.send_json({"op": "subscribe", "topics": [f"brand:{brand.id}", f"auth:agent:{agent.id}"]})
        subscribed = _recv(ws, "subscribed")
        assert subscribed["topics"] == [f"brand:{brand.id}"] and subscribed["denied"] == [f"auth:agent:{agent.id}"]
        internal = [f"auth:agent:{agent.id}", *(f"auth:session:{s['id']}" for s in sessions)]
        ws.send_json({"op": "unsubscribe", "topics": internal})
        assert _recv(ws, "unsubscribed")["topics"] == []
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        # Queued behind the revocation: it must never reach the signed-out socket.
        get_bus().publish(Event(type="ticket.updated", data={"id": 1}, topics=(f"brand:{brand.id}",)))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                msg = ws.receive_json()
                assert msg.get("op") != "event", "a signed-out socket still received brand events"
        assert closed.value.code == 4401


def test_topics_are_capped_per_connection_not_per_frame(client: Any, make: Any, monkeypatch: Any) -> None:
    """Frame after frame of subscriptions used to grow one socket's topics (and the hub's index) without end."""
    from kefu.web import ws as ws_module

    monkeypatch.setattr(ws_module, "MAX_TOPICS", 2)
    brands = [make.brand() for _ in range(3)]
    token = make.token(make.agent("admin", brands))["Authorization"].split()[1]
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        _recv(ws, "hello")
        for b in brands[:2]:
            ws.send_json({"op": "subscribe", "topics": [f"brand:{b.id}"]})
            assert _recv(ws, "subscribed")["topics"] == [f"brand:{b.id}"]
        ws.send_json({"op": "subscribe", "topics": [f"brand:{brands[2].id}", f"brand:{brands[0].id}"]})
        full = _recv(ws, "subscribed")
        assert full["topics"] == [f"brand:{brands[0].id}"] and full["denied"] == [f"brand:{brands[2].id}"]
        ws.send_json({"op": "unsubscribe", "topics": [f"brand:{brands[0].id}"]})
        _recv(ws, "unsubscribed")
        ws.send_json({"op": "subscribe", "topics": [f"brand:{brands[2].id}"]})
        assert _recv(ws, "subscribed")["topics"] == [f"brand:{brands[2].id}"]  # room again after leaving one


def test_refused_topics_are_not_looked_up_again(client: Any, make: Any, monkeypatch: Any) -> None:
    """A refused id was a query each time it was asked for: 200 of them a frame made a socket a query pump."""
    from kefu.web import ws as ws_module

    looked: list[str] = []
    real = ws_module._authorize_topics

    def counting(factory: Any, principal: Any, topics: list[str]) -> Any:
        looked.extend(topics)
        return real(factory, principal, topics)

    monkeypatch.setattr(ws_module, "_authorize_topics", counting)
    monkeypatch.setattr(ws_module, "MAX_LOOKUPS", 5)
    brand = make.brand()
    token = make.token(make.agent("agent", [brand]))["Authorization"].split()[1]
    foreign = [f"conversation:{n}" for n in range(900_001, 900_004)]
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        _recv(ws, "hello")
        for _ in range(3):
            ws.send_json({"op": "subscribe", "topics": foreign})
            assert _recv(ws, "subscribed")["denied"] == foreign
        assert looked == foreign  # once each
        more = [f"conversation:{n}" for n in range(900_010, 900_014)]
        ws.send_json({"op": "subscribe", "topics": [*more, f"brand:{brand.id}"]})
        answer = _recv(ws, "subscribed")
        assert answer["topics"] == [] and len(looked) == 5  # the connection's lookups are spent
        assert answer["denied"] == [*more, f"brand:{brand.id}"]


# ---------------------------------------------------------------- both sockets: frame floods


@pytest.mark.parametrize("socket", ["agent", "widget"])
def test_a_frame_flood_closes_the_socket(client: Any, make: Any, socket: str) -> None:
    """Every frame was free: a loop of typing/resume/subscribe frames is a bus publish or a query each."""
    from kefu.web.wsframes import FRAME_BURST, TOO_MANY

    if socket == "agent":
        token = make.token(make.agent("agent", [make.brand()]))["Authorization"].split()[1]
        url = f"/api/v1/ws?token={token}"
    else:
        url = f"/api/v1/widget/ws?token={_widget_token(client, make)}"
    with client.websocket_connect(url) as ws:
        _recv(ws, "hello")
        for _ in range(FRAME_BURST * 3):
            ws.send_text('{"op":"ping"}')
        pongs = 0
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                pongs += ws.receive_json().get("op") == "pong"
        assert closed.value.code == TOO_MANY and FRAME_BURST - 2 <= pongs <= FRAME_BURST + 5


def test_a_steady_client_is_never_over_the_frame_budget() -> None:
    """The budget refills: a client within FRAMES_PER_SECOND keeps going for as long as it likes."""
    from kefu.web import wsframes

    now = 1000.0
    budget = wsframes.FrameBudget(at=now)
    assert all(budget.take(now) for _ in range(wsframes.FRAME_BURST))
    assert not budget.take(now)
    for _ in range(5000):
        now += 1 / wsframes.FRAMES_PER_SECOND
        assert budget.take(now)
    assert not budget.take(now)


def test_repeated_typing_frames_reach_the_agents_once(client: Any, make: Any, events: list[Any]) -> None:
    """Each visitor typing frame was a bus publish to every agent on the conversation, however often it was sent."""
    with client.websocket_connect(f"/api/v1/widget/ws?token={_widget_token(client, make)}") as ws:
        _recv(ws, "hello")
        ws.send_json({"op": "message", "body": "在嗎", "client_id": "c1"})
        _recv(ws, "ack")
        for typing in (True, True, True, True, False, False, True):
            ws.send_json({"op": "typing", "typing": typing})
        ws.send_json({"op": "ping"})
        _recv(ws, "pong")
    assert [e.data["typing"] for e in events if e.type == "typing"] == [True, False, True]


# ---------------------------------------------------------------- files: no script under our origin, whatever the route


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def test_a_customers_svg_gets_the_sandbox_policy_on_every_download_route(
    client: Any, make: Any, db: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API download served a customer's file under its own type with no CSP at all (only pages got one)."""
    from urllib.parse import urlsplit

    from kefu.channels import media, storage
    from kefu.conversations.service import create_conversation
    from kefu.security.asgi import FILE_CSP

    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path))
    brand = make.brand()
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=make.customer(brand).id, channel="email"), actor=None
    )
    row = storage.store(
        db, brand_id=brand.id, conversation_id=conv.id, filename="x.svg", content_type="image/svg+xml", data=SVG
    )
    db.commit()
    agent = make.agent("agent", [brand])
    signed = urlsplit(media.public_url(row.id, row.filename)).path
    urls = [f"/api/v1/channels/attachments/{row.id}", signed]
    for url in urls:
        r = client.get(url, headers=make.token(agent))
        assert r.status_code == 200, (url, r.text)
        assert r.headers["content-security-policy"] == FILE_CSP, url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-disposition"].startswith("attachment"), url
    assert client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD}).is_success
    page = client.get(f"/console/attachments/{row.id}?inline=1")
    assert page.status_code == 200 and page.headers["content-security-policy"] == FILE_CSP


def test_the_web_layer_gives_every_non_page_response_the_file_policy() -> None:
    """One place decides it: a route that forgets (a new file route, a JSON body) still runs nothing when opened."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from kefu.security.asgi import FILE_CSP, WebSecurity

    def svg(request: Any) -> Response:
        return Response(SVG, media_type="image/svg+xml")

    def own(request: Any) -> Response:
        return Response(b"{}", media_type="application/json", headers={"Content-Security-Policy": "sandbox"})

    def page(request: Any) -> Response:
        return HTMLResponse("<p>hi</p>")

    inner = Starlette(routes=[Route("/svg", svg), Route("/own", own), Route("/page", page)])
    with TestClient(WebSecurity(inner)) as c:
        assert c.get("/svg").headers["content-security-policy"] == FILE_CSP
        assert c.get("/own").headers["content-security-policy"] == "sandbox"  # a route's own policy stands
        assert "nonce-" in c.get("/page").headers["content-security-policy"]


# ---------------------------------------------------------------- widget socket: the HTTP rule, rechecked


def _closed_code(ws: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            msg = ws.receive_json()
            assert msg.get("op") not in ("resumed", "message"), f"a closed visitor socket still answered: {msg}"
    return int(closed.value.code)


def test_a_deactivated_inbox_ends_its_visitor_sockets(client: Any, make: Any, db: Any) -> None:
    """HTTP refused a deactivated inbox's visitors, but an open socket went on replaying history and relaying."""
    from sqlalchemy import update

    from kefu.brands.models import Inbox
    from kefu.channels.web_chat.token import verify

    token = _widget_token(client, make)
    inbox_id = verify(token).inbox_id  # type: ignore[union-attr]
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:
        _recv(ws, "hello")
        ws.send_json({"op": "message", "body": "我的訂單", "client_id": "c1"})
        _recv(ws, "ack")
        db.execute(update(Inbox).where(Inbox.id == inbox_id).values(is_active=False))
        db.commit()
        assert client.get("/api/v1/widget/messages", headers={"X-Kefu-Visitor": token}).status_code == 404
        ws.send_json({"op": "resume", "last_id": 0})  # a resume rechecks at once; other frames every RECHECK_SECONDS
        assert _closed_code(ws) == 4401


@pytest.mark.timeout(60)
def test_an_idle_visitor_socket_is_rechecked_on_schedule(client: Any, make: Any, db: Any, monkeypatch: Any) -> None:
    """A socket that sends nothing is rechecked every RECHECK_SECONDS too: a deactivated inbox closes it unasked."""
    from sqlalchemy import update

    from kefu.brands.models import Inbox
    from kefu.channels.web_chat import api as chat_api
    from kefu.channels.web_chat.token import verify

    monkeypatch.setattr(chat_api, "RECHECK_SECONDS", 0.5)  # the schedule, shortened; the rule is the same
    token = _widget_token(client, make)
    inbox_id = verify(token).inbox_id  # type: ignore[union-attr]
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:
        _recv(ws, "hello")
        db.execute(update(Inbox).where(Inbox.id == inbox_id).values(is_active=False))
        db.commit()
        assert _closed_code(ws) == 4401  # no frame sent: only the timer can have closed it


def test_an_expired_visitor_token_ends_its_socket(client: Any, make: Any, monkeypatch: Any) -> None:
    """The token was checked once, at the handshake: a socket outlived its token's expiry for as long as it stayed."""
    from kefu.channels.web_chat import api as chat_api

    token = _widget_token(client, make)
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:
        _recv(ws, "hello")
        monkeypatch.setattr(chat_api, "verify", lambda *a, **k: None)  # what an expired token verifies to
        assert client.get("/api/v1/widget/messages", headers={"X-Kefu-Visitor": token}).status_code == 401
        ws.send_json({"op": "resume", "last_id": 0})
        assert _closed_code(ws) == 4401


def test_a_bidi_override_cannot_dress_a_customers_file_as_another_type(client: Any, make: Any) -> None:
    """`invoice<U+202E>fdp.exe` showed as `invoiceexe.pdf` to the agent (console list and download dialog)."""
    from urllib.parse import unquote

    from kefu.brands.service import create_inbox

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    ib = create_inbox(make.db, make.brand(), kind="web_chat", name="chat", config={}, actor=None, bot=False)
    make.db.commit()
    h = {"X-Kefu-Visitor": client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]}
    for sneaky in ("invoice\u202egnp.exe", "a\u2067b\u2069\u200f.png"):
        up = client.post("/api/v1/widget/attachments", files={"file": (sneaky, png, "image/png")}, headers=h)
        assert up.status_code == 201, up.text
        name = up.json()["filename"]
        assert not any(ch in name for ch in "\u202e\u2067\u2069\u200f"), repr(name)
        got = client.get(f"/api/v1/channels/attachments/{up.json()['id']}", headers=h)
        assert not any(ch in unquote(got.headers["content-disposition"]) for ch in "\u202e\u2067\u2069\u200f")
