"""Route × transport: seeded personal data never reaches a principal without pii:reveal, by API, page or WebSocket.

Every GET route of the app is called (path parameters filled with the seeded ids), so a new route that forgets
masking fails here. The supervisor (with pii:reveal) is the control: the same calls do show the data.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation
from tests.security.test_route_matrix import _fill, api_routes

NAME = "林美華"
EMAIL = "meihua.lin@example.com"
PHONE = "0933222111"
TW_ID = "A123456789"
CARD = "4111 1111 1111 1111"
LINE_ID = "U4af4980629abcdef0123456789abcdef"
TEXT = f"我是{NAME}，身分證 {TW_ID}，卡號 {CARD}，電話 {PHONE}，email {EMAIL}"
# What must never appear (cards also without spaces; IDs spelled out).
SECRETS = (EMAIL, PHONE, TW_ID, CARD, CARD.replace(" ", ""), LINE_ID, "0933-222-111", "A 123 456 789")


def _world(db: Any, make: Any) -> dict[str, Any]:
    from kefu.brands.service import create_inbox
    from kefu.channels import outbox
    from kefu.channels.models import InboundEvent
    from kefu.complaints.service import create_complaint
    from kefu.conversations.service import add_message, create_conversation
    from kefu.customers.service import add_identity
    from kefu.tickets.service import add_comment, create_ticket

    brand = make.brand()
    cust = make.customer(brand, name=NAME, email=EMAIL, phone=PHONE)
    add_identity(db, cust, "line", LINE_ID, NAME)
    ib = create_inbox(db, brand, kind="line", name="line", config={"channel_access_token": "t"}, actor=None)
    conv = create_conversation(
        db,
        CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line", inbox_id=ib.id, subject=TEXT[:60]),
        actor=None,
    )
    msg, _ = add_message(db, conv, sender_type="customer", body=TEXT)
    ticket = create_ticket(
        db, brand_id=brand.id, subject=f"退款 {PHONE}", description=TEXT, actor=None, customer_id=cust.id
    )
    conv.ticket_id = ticket.id
    add_comment(db, ticket, body=f"客戶卡號 {CARD}", public=False, actor=None)
    complaint = create_complaint(
        db,
        brand_id=brand.id,
        actor=None,
        complainant_name=NAME,
        complainant_contact=PHONE,
        description=TEXT,
        channel="phone",
        order_number=TW_ID,
        customer_id=cust.id,
    )
    outbox.queue(db, inbox=ib, recipient=LINE_ID, payload={"text": TEXT}, conversation=conv)
    db.add(
        InboundEvent(
            brand_id=brand.id,
            inbox_id=ib.id,
            channel="line",
            provider_id="ev-pii",
            payload={"text": TEXT, "sender_external_id": LINE_ID},
            status="processed",
            conversation_id=conv.id,
        )
    )
    db.commit()
    return {"brand": brand, "customer": cust, "conversation": conv, "ticket": ticket, "complaint": complaint,
            "inbox": ib, "message": msg}  # fmt: skip


def _ids(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "brand_id": w["brand"].id,
        "customer_id": w["customer"].id,
        "conversation_id": w["conversation"].id,
        "ticket_id": w["ticket"].id,
        "complaint_id": w["complaint"].id,
        "inbox_id": w["inbox"].id,
        "message_id": w["message"].id,
        "number": w["ticket"].number,
        "id": w["customer"].id,
    }


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_no_api_route_or_page_shows_personal_data_without_reveal(app: Any, client: Any, make: Any, db: Any) -> None:
    w = _world(db, make)
    ids = _ids(w)
    agent = make.token(make.agent("agent", [w["brand"]]))
    boss = make.token(make.agent("supervisor", [w["brand"]]))
    leaks: dict[str, list[str]] = {}
    seen_with_reveal: set[str] = set()
    routes = [r for r in api_routes(list(app.routes)) if "GET" in r.methods]
    assert len(routes) > 30
    for route in routes:
        path = _fill(route.path, ids)
        params = {"brand_id": w["brand"].id}
        if route.path.startswith("/api/"):
            r = client.get(path, params=params, headers=agent)
            if r.status_code < 400 and (found := _leaks(r.text)):
                leaks[route.path] = found
            ok = client.get(path, params=params, headers=boss)
            if ok.status_code < 400:
                seen_with_reveal.update(_leaks(ok.text))
    assert leaks == {}, f"personal data reached an agent without pii:reveal: {leaks}"
    # The control: the same data is there for a principal who may reveal it.
    assert {EMAIL, PHONE, TW_ID} <= seen_with_reveal


def test_console_pages_mask_personal_data(app: Any, client: Any, make: Any, db: Any) -> None:
    w = _world(db, make)
    ids = _ids(w)
    agent = make.agent("agent", [w["brand"]])
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200
    leaks: dict[str, list[str]] = {}
    pages = [r for r in api_routes(list(app.routes)) if "GET" in r.methods and not r.path.startswith("/api/")]
    for route in pages:
        path = _fill(route.path, ids)
        resp = client.get(path, params={"brand_id": w["brand"].id, "conversation": w["conversation"].id})
        if resp.status_code < 400 and "text/html" in resp.headers.get("content-type", ""):
            text = re.sub(r"\s+", " ", resp.text)
            if found := _leaks(text):
                leaks[route.path] = found
    assert leaks == {}, f"pages show personal data to an agent without pii:reveal: {leaks}"


def test_websocket_events_are_masked_without_reveal(client: Any, make: Any, db: Any) -> None:
    from kefu.customers.models import Customer

    brand = make.brand()
    agent = make.agent("agent", [brand])
    boss = make.agent("supervisor", [brand])
    h = make.token(agent)
    cust = db.scalar(select(Customer).where(Customer.id == make.customer(brand, name=NAME).id))
    conv = client.post("/api/v1/conversations", json={"brand_id": brand.id, "customer_id": cust.id}, headers=h).json()
    frames: dict[str, list[str]] = {}
    for who, principal in (("agent", agent), ("boss", boss)):
        token = make.token(principal)["Authorization"].split()[1]
        with client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "http://testserver"}) as ws:
            ws.send_text(json.dumps({"op": "subscribe", "topics": [f"conversation:{conv['id']}", f"brand:{brand.id}"]}))
            while json.loads(ws.receive_text())["op"] != "subscribed":
                pass
            client.post(f"/api/v1/conversations/{conv['id']}/messages", json={"body": TEXT}, headers=h)
            got = []
            for _ in range(10):
                msg = json.loads(ws.receive_text())
                if msg["op"] == "event":
                    got.append(json.dumps(msg, ensure_ascii=False))
                    if msg["event"]["type"] == "message.created":
                        break
            frames[who] = got
    assert frames["agent"] and not _leaks(" ".join(frames["agent"]))
    assert TW_ID in " ".join(frames["boss"])
