"""Conversation commands (start, update, agent reply): one validated model per use case, whoever calls."""

from __future__ import annotations

from typing import Any

import pytest


def test_service_validates_every_path_into_commands(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.conversations.commands import CreateConversation, UpdateConversation
    from kefu.conversations.models import Conversation, ConversationStatus
    from kefu.conversations.service import create_conversation, update_conversation
    from kefu.core.enums import ChannelKind
    from kefu.core.errors import InvalidInput

    brand = make.brand()
    customer = make.customer(brand)
    with pytest.raises(InvalidInput, match="channel"):
        create_conversation(db, {"brand_id": brand.id, "customer_id": customer.id, "channel": "pigeon"}, actor=None)
    with pytest.raises(InvalidInput, match="status"):
        create_conversation(db, {"brand_id": brand.id, "customer_id": customer.id, "status": "snoozed"}, actor=None)
    with pytest.raises(InvalidInput, match="subjct: Extra inputs"):
        create_conversation(db, {"brand_id": brand.id, "customer_id": customer.id, "subjct": "typo"}, actor=None)
    command = CreateConversation(brand_id=brand.id, customer_id=customer.id, channel=ChannelKind.LINE)
    conv = create_conversation(db, command, actor=None)
    assert (conv.channel, conv.status) == (ChannelKind.LINE, ConversationStatus.OPEN)
    with pytest.raises(InvalidInput, match="status"):
        update_conversation(db, conv, None, {"status": "archived"})
    with pytest.raises(InvalidInput, match="subject"):
        update_conversation(db, conv, None, {"subject": "x" * 501})
    with pytest.raises(InvalidInput, match="asignee_id: Extra inputs"):
        update_conversation(db, conv, None, {"asignee_id": 1})
    update_conversation(db, conv, None, UpdateConversation(status=ConversationStatus.PENDING, subject=None))
    db.commit()
    db.expire_all()
    stored = db.get(Conversation, conv.id)
    assert stored.status is ConversationStatus.PENDING and stored.subject is None  # a null subject is ignored
    assert [(e.type, e.data.get("status")) for e in events] == [
        ("conversation.created", None),
        ("conversation.updated", "pending"),
    ]
    assert events[0].data == {"id": conv.id, "customer_id": customer.id, "channel": "line"}


def test_post_message_command(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.auth.service import principal_for
    from kefu.conversations.commands import CreateConversation, PostMessage
    from kefu.conversations.service import create_conversation, post_message
    from kefu.core.errors import InvalidInput

    brand = make.brand()
    agent = make.agent("agent", [brand])
    customer = make.customer(brand)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="api"), actor=None
    )
    db.commit()
    events.clear()
    principal = principal_for(db, agent, "token", 0, None)
    with pytest.raises(InvalidInput, match="body"):
        post_message(db, conv, principal, {"body": ""})
    note = post_message(db, conv, principal, PostMessage(body="內部備註", is_note=True))
    reply = post_message(db, conv, principal, {"body": "您好，已為您處理。"})
    db.commit()
    assert (note.sender_type, note.agent_id, note.is_note) == ("agent", agent.id, True)
    assert reply.is_note is False
    topics = [e.topics for e in events if e.type == "message.created"]
    assert len(topics) == 2
    assert f"conversation:{conv.id}:public" not in topics[0] and f"conversation:{conv.id}:public" in topics[1]


def test_api_bodies_are_the_commands(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    agent = make.agent("admin", [brand])
    headers = make.token(agent)
    customer = make.customer(brand)
    base = {"brand_id": brand.id, "customer_id": customer.id}
    r = client.post("/api/v1/conversations", json={**base, "channel": "fax"}, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    # The provider thread id is the channels' business: the public body does not take it.
    r = client.post(
        "/api/v1/conversations", json={**base, "channel": "phone", "external_thread_id": "t1"}, headers=headers
    )
    assert r.status_code == 201, r.text
    conv_id = r.json()["id"]
    from kefu.conversations.models import Conversation

    assert db.get(Conversation, conv_id).external_thread_id is None
    assert client.patch(f"/api/v1/conversations/{conv_id}", json={"status": "x"}, headers=headers).status_code == 422
    r = client.patch(f"/api/v1/conversations/{conv_id}", json={"status": "pending"}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": ""}, headers=headers)
    assert r.status_code == 422
    r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "hi", "is_note": True}, headers=headers)
    assert r.status_code == 201 and r.json()["is_note"] is True and r.json()["agent_id"] == agent.id
    spec = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(spec["ConversationStatus"]["enum"]) == {"bot", "open", "pending", "closed"}
    assert "external_thread_id" not in spec["ConversationCreate"]["properties"]
