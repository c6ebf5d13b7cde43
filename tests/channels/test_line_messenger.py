"""LINE and Messenger end to end: signed webhooks against the app, dedupe, threading, replies to local APIs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.channels.conftest import hub_sign, line_body, line_sign, line_text

SECRET = "line-channel-secret"


def _line_inbox(inbox: Any, brand: Any, api: Any) -> Any:
    return inbox(brand, "line", {"channel_secret": SECRET, "channel_access_token": "tok", "api_base": api.url})


def _post_line(client: Any, inbox_id: int, body: bytes, secret: str = SECRET) -> Any:
    return client.post(
        f"/api/v1/channels/line/{inbox_id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(secret, body), "Content-Type": "application/json"},
    )


def test_line_webhook_follow_text_image_sticker_then_reply_and_push(
    client: Any, make: Any, db: Any, jobs: Any, events: list[Any], inbox: Any, line_api: Any
) -> None:
    from kefu.channels.models import InboundEvent, OutboxMessage
    from kefu.conversations.models import Conversation, Message
    from kefu.customers.models import CustomerIdentity

    brand = make.brand()
    ib = _line_inbox(inbox, brand, line_api)
    body = line_body(
        {
            "type": "follow",
            "timestamp": 1,
            "webhookEventId": "EVFOLLOW",
            "replyToken": "rt-follow",
            "source": {"type": "user", "userId": "U1"},
        },
        line_text("EV1", "U1", "你好，我的訂單還沒到", reply_token="rt-1"),
        {
            "type": "message",
            "timestamp": 2,
            "webhookEventId": "EV2",
            "source": {"type": "user", "userId": "U1"},
            "message": {"id": "IMG1", "type": "image", "contentProvider": {"type": "line"}},
        },
        {
            "type": "message",
            "timestamp": 3,
            "webhookEventId": "EV3",
            "source": {"type": "user", "userId": "U1"},
            "message": {"id": "ST1", "type": "sticker", "packageId": "446", "stickerId": "1988"},
        },
    )
    # A wrong signature is refused and nothing is stored.
    bad = client.post(f"/api/v1/channels/line/{ib.id}/webhook", content=body, headers={"X-Line-Signature": "AAAA"})
    assert bad.status_code == 401
    assert db.scalar(select(InboundEvent.id).where(InboundEvent.inbox_id == ib.id)) is None

    r = _post_line(client, ib.id, body)
    assert r.status_code == 200 and r.json() == {"accepted": 4}
    assert jobs.drain()
    # LINE redelivers the same events: acknowledged, but nothing new.
    again = _post_line(client, ib.id, body)
    assert again.json() == {"accepted": 0}
    assert jobs.drain()

    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    assert conv.external_thread_id == "user:U1" and conv.channel == "line"
    ident = db.scalars(select(CustomerIdentity).where(CustomerIdentity.kind == "line")).one()
    assert ident.external_id == "U1" and ident.customer_id == conv.customer_id
    msgs = list(db.scalars(select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)))
    assert [(m.sender_type, m.content_type) for m in msgs] == [
        ("system", "event"),
        ("customer", "text"),
        ("customer", "image"),
        ("customer", "sticker"),
    ]
    assert msgs[1].body == "你好，我的訂單還沒到"
    image = msgs[2].attachments[0]
    assert image["content_type"] == "image/jpeg" and image["size"] > 0
    assert "/v2/bot/message/IMG1/content" in line_api.paths()
    assert msgs[3].meta["sticker"] == {"packageId": "446", "stickerId": "1988"}
    inbound = [e for e in events if e.type == "message.inbound"]
    assert len(inbound) == 4 and inbound[1].data["message_id"] == msgs[1].id

    # The agent downloads the image through the API (auth required, forced download, nosniff).
    h = make.token(make.agent("agent", [brand]))
    assert client.get(image["url"]).status_code == 401
    dl = client.get(image["url"], headers=h)
    assert dl.status_code == 200 and dl.content.startswith(b"\xff\xd8")
    assert dl.headers["x-content-type-options"] == "nosniff"
    assert dl.headers["content-disposition"].startswith("attachment")

    # First agent reply uses the fresh reply token; the second must push (token is single-use).
    line_api.requests.clear()
    r1 = client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "幫您查詢中"}, headers=h)
    assert r1.status_code == 201
    assert jobs.drain()
    r2 = client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "已出貨"}, headers=h)
    assert jobs.drain()  # test connection is shared with the job thread: one at a time
    note = client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "內部", "is_note": True}, headers=h)
    assert r2.status_code == note.status_code == 201
    assert jobs.drain()
    sent = [(r.path, r.json()) for r in line_api.requests]
    assert sent[0][0] == "/v2/bot/message/reply" and sent[0][1]["replyToken"] == "rt-1"
    assert sent[1][0] == "/v2/bot/message/push" and sent[1][1]["to"] == "U1"
    assert sent[1][1]["messages"] == [{"type": "text", "text": "已出貨"}]
    assert len(sent) == 2  # the internal note never leaves
    rows = list(db.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id)))
    assert [r.status for r in rows] == ["sent", "sent"]
    push_row = rows[1]
    assert line_api.requests[1].headers["x-line-retry-key"] == push_row.idempotency_key
    db.expire_all()
    assert db.get(Message, r2.json()["id"]).meta["delivery"]["status"] == "sent"


def test_line_push_retries_with_same_retry_key_then_dead_letters(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: Any, session_factory: Any, monkeypatch: Any
) -> None:
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Message

    brand = make.brand()
    ib = _line_inbox(inbox, brand, line_api)
    assert _post_line(client, ib.id, line_body(line_text("E1", "U7", "hi"))).status_code == 200
    assert jobs.drain()
    conv_id = db.scalar(select(Message.conversation_id).where(Message.provider_message_id == "E1"))
    h = make.token(make.agent("agent", [brand]))

    # Two 500s, then success: three pushes, one retry key, one delivered message.
    failures = {"n": 2}

    def flaky(rec: Any) -> Any:
        if rec.path.endswith("/push") and failures["n"] > 0:
            failures["n"] -= 1
            return 500, {"Content-Type": "application/json"}, b'{"message":"oops"}'
        return None

    line_api.responder = flaky
    line_api.requests.clear()
    client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "retry me"}, headers=h)
    assert jobs.drain()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv_id)).one()
    db.refresh(row)
    while row.status == "pending":
        outbox.deliver_due(session_factory)
        db.refresh(row)
    assert row.status == "sent"
    pushes = [r for r in line_api.requests if r.path.endswith("/push")]
    assert len({r.headers["x-line-retry-key"] for r in pushes}) == 1
    assert row.attempts == len(line_api.requests)

    # A permanent rejection dead-letters at once; an operator can requeue it.
    line_api.responder = lambda rec: (400, {"Content-Type": "application/json"}, b'{"message":"Invalid to"}')
    r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "rejected"}, headers=h)
    assert jobs.drain()
    dead = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == r.json()["id"])).one()
    db.refresh(dead)
    assert dead.status == "dead" and dead.attempts == 1 and "Invalid to" in (dead.last_error or "")
    listed = client.get("/api/v1/channels/outbox", params={"status": "dead"}, headers=h).json()
    assert [x["id"] for x in listed] == [dead.id]
    line_api.responder = None
    assert client.post(f"/api/v1/channels/outbox/{dead.id}/retry", headers=h).json()["status"] == "pending"
    assert jobs.drain()
    db.refresh(dead)
    assert dead.status == "sent"

    # Transient failures forever: dead after max_attempts, with exponential backoff in between.
    monkeypatch.setenv("KEFU_OUTBOX_MAX_ATTEMPTS", "3")
    line_api.responder = lambda rec: (503, {"Content-Type": "application/json"}, b"{}")
    r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "never"}, headers=h)
    assert jobs.drain()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == r.json()["id"])).one()
    for _ in range(5):
        outbox.deliver_due(session_factory)
    db.refresh(row)
    assert row.status == "dead" and row.attempts == 3


def test_backoff_is_exponential_and_capped(monkeypatch: Any) -> None:
    from kefu.channels.outbox import backoff_seconds

    monkeypatch.setenv("KEFU_OUTBOX_BASE_DELAY_SECONDS", "5")
    monkeypatch.setenv("KEFU_OUTBOX_MAX_DELAY_SECONDS", "60")
    assert [backoff_seconds(a) for a in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]


APP_SECRET = "fb-app-secret"


def _mess_inbox(inbox: Any, brand: Any, api: Any) -> Any:
    return inbox(
        brand,
        "messenger",
        {"app_secret": APP_SECRET, "verify_token": "vt-123", "page_access_token": "pat", "api_base": api.url},
    )


def _mess_body(*messaging: dict[str, Any]) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": list(messaging)}]}).encode()


def _post_mess(client: Any, inbox_id: int, body: bytes) -> Any:
    return client.post(
        f"/api/v1/channels/messenger/{inbox_id}/webhook",
        content=body,
        headers={"X-Hub-Signature-256": hub_sign(APP_SECRET, body), "Content-Type": "application/json"},
    )


def test_messenger_handshake_webhook_send_and_receipts(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: Any
) -> None:
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation, Message

    brand = make.brand()
    ib = _mess_inbox(inbox, brand, messenger_api)
    url = f"/api/v1/channels/messenger/{ib.id}/webhook"
    ok = client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "vt-123", "hub.challenge": "c-42"})
    assert ok.status_code == 200 and ok.text == "c-42"
    assert (
        client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "c"}).status_code
        == 403
    )

    text = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE"},
        "timestamp": 1_700_000_000_000,
        "message": {"mid": "mid.1", "text": "退貨要怎麼辦理？"},
    }
    image = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE"},
        "timestamp": 1_700_000_000_500,
        "message": {
            "mid": "mid.2",
            "attachments": [{"type": "image", "payload": {"url": f"{messenger_api.url}/cdn/photo.png"}}],
        },
    }
    body = _mess_body(text, image)
    assert client.post(url, content=body, headers={"X-Hub-Signature-256": "sha256=00"}).status_code == 401
    assert _post_mess(client, ib.id, body).json() == {"accepted": 2}
    assert jobs.drain()
    # The same mid inside a differently shaped delivery is still a duplicate.
    assert _post_mess(client, ib.id, _mess_body(text)).json() == {"accepted": 0}
    assert jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    msgs = list(db.scalars(select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)))
    assert [m.provider_message_id for m in msgs] == ["mid.1", "mid.2"]
    assert msgs[1].content_type == "image" and msgs[1].attachments[0]["size"] == len(b"\x89PNG\r\n\x1a\nfake")

    h = make.token(make.agent("agent", [brand]))
    messenger_api.requests.clear()
    reply = client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "請提供訂單編號"}, headers=h)
    assert jobs.drain()
    req = messenger_api.requests[0]
    assert req.path.startswith("/v21.0/me/messages") and req.headers["authorization"] == "Bearer pat"
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == reply.json()["id"])).one()
    sent = {"text": "請提供訂單編號", "metadata": f"kefu:{row.idempotency_key}"}  # echoed back: reconciliation
    assert req.json()["recipient"] == {"id": "PSID1"} and req.json()["message"] == sent
    db.refresh(row)
    assert row.status == "sent" and row.provider_message_id

    delivery = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE"},
        "timestamp": 1_700_000_001_000,
        "delivery": {"mids": [row.provider_message_id], "watermark": 1_700_000_001_000},
    }
    assert _post_mess(client, ib.id, _mess_body(delivery)).json() == {"accepted": 1}
    assert jobs.drain()
    db.refresh(row)
    assert row.status == "delivered"
    read = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE"},
        "timestamp": 4_000_000_000_000,
        "read": {"watermark": 4_000_000_000_000},
    }
    _post_mess(client, ib.id, _mess_body(read))
    assert jobs.drain()
    db.refresh(row)
    assert row.status == "read"
    db.expire_all()
    assert db.get(Message, reply.json()["id"]).meta["delivery"]["status"] == "read"
    # Receipts are not timeline messages.
    assert (
        db.scalar(select(Message.id).where(Message.conversation_id == conv.id).order_by(Message.id.desc()))
        == reply.json()["id"]
    )
