"""WebSocket realtime: authenticated subscriptions, brand isolation, notes kept internal, origin check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect


def _recv_until(ws: Any, op: str, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        msg = json.loads(ws.receive_text())
        if msg["op"] == op:
            return msg
    raise AssertionError(f"no {op} message")


def test_ws_requires_auth(client: Any) -> None:
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/api/v1/ws") as ws:
        ws.receive_text()
    assert exc.value.code == 4401


def test_ws_rejects_foreign_origin(client: Any, make: Any) -> None:
    agent = make.agent("admin")
    token = make.token(agent)["Authorization"].split()[1]
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "https://evil.example"}) as ws,
    ):
        ws.receive_text()
    assert exc.value.code == 4403


def test_ws_delivers_message_events_and_hides_notes_from_public_topic(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    h = make.token(agent)
    token = h["Authorization"].split()[1]
    cust = client.post("/api/v1/customers", json={"brand_id": brand.id}, headers=h).json()
    conv = client.post(
        "/api/v1/conversations", json={"brand_id": brand.id, "customer_id": cust["id"]}, headers=h
    ).json()
    cid = conv["id"]
    with client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "http://testserver"}) as ws:
        assert _recv_until(ws, "hello")["agent_id"] == agent.id
        ws.send_text(json.dumps({"op": "subscribe", "topics": [f"conversation:{cid}:public", "bogus:1"]}))
        sub = _recv_until(ws, "subscribed")
        assert sub["topics"] == [f"conversation:{cid}:public"] and sub["denied"] == ["bogus:1"]
        client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "internal", "is_note": True}, headers=h)
        client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "您好，請問有什麼可以幫您？"}, headers=h)
        ev = _recv_until(ws, "event")["event"]
        assert ev["type"] == "message.created" and ev["data"]["body"] == "您好，請問有什麼可以幫您？"
        ws.send_text('{"op":"ping"}')
        assert _recv_until(ws, "pong")


def test_ws_denies_other_brand_topics(client: Any, make: Any) -> None:
    a, b = make.brand(), make.brand()
    ha = make.token(make.agent("agent", [a]))
    hb = make.token(make.agent("agent", [b]))
    cust = client.post("/api/v1/customers", json={"brand_id": a.id}, headers=ha).json()
    conv = client.post("/api/v1/conversations", json={"brand_id": a.id, "customer_id": cust["id"]}, headers=ha).json()
    token_b = hb["Authorization"].split()[1]
    with client.websocket_connect(f"/api/v1/ws?token={token_b}") as ws:
        _recv_until(ws, "hello")
        ws.send_text(
            json.dumps(
                {
                    "op": "subscribe",
                    "topics": [f"brand:{a.id}", f"conversation:{conv['id']}", f"brand:{b.id}"],
                }
            )
        )
        sub = _recv_until(ws, "subscribed")
        assert sub["topics"] == [f"brand:{b.id}"]
        assert set(sub["denied"]) == {f"brand:{a.id}", f"conversation:{conv['id']}"}


def test_ws_cookie_session(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    with client.websocket_connect("/api/v1/ws", headers={"Origin": "http://testserver"}) as ws:
        assert _recv_until(ws, "hello")["agent_id"] == agent.id


def test_hub_index_follows_topic_changes() -> None:

    from kefu.core.events import Event
    from kefu.core.realtime import Hub, Subscriber

    hub = Hub()
    a, b, late = Subscriber(reveal=True), Subscriber(), Subscriber()
    a.topics.update(["conversation:1:public", "brand:1"])
    hub.add(a)
    hub.add(b)
    b.topics.add("brand:1")
    late.topics.add("brand:2")  # topics set before joining the hub count too
    hub.add(late)

    def got(sub: Subscriber) -> list[str]:
        out = []
        while not sub.queue.empty():
            out.append(json.loads(sub.queue.get_nowait())["event"]["type"])
        return out

    hub._fanout(Event(type="one", data={"x": 1}, topics=("conversation:1:public",)))
    hub._fanout(Event(type="both", data={"x": 1}, topics=("brand:1", "conversation:1:public")))
    hub._fanout(Event(type="two", data={"x": 1}, topics=("brand:2",)))
    assert (got(a), got(b), got(late)) == (["one", "both"], ["both"], ["two"])
    b.topics.discard("brand:1")
    a.topics -= {"brand:1"}
    hub.remove(late)
    late.topics.add("brand:1")  # off the hub: no longer indexed
    hub._fanout(Event(type="three", data={}, topics=("brand:1", "brand:2")))
    assert (got(a), got(b), got(late)) == ([], [], [])
    assert hub._index == {"conversation:1:public": {a}}
