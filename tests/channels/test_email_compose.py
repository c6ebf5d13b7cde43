"""An agent's email reply with its own subject and Cc over a real SMTP relay: headers, envelope and threading."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation


def test_console_reply_sends_subject_and_cc_and_keeps_the_thread(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, upstream: Any
) -> None:
    from kefu.conversations.models import Message
    from kefu.conversations.service import add_message, create_conversation

    captured, port = upstream
    brand = make.brand()
    ib = inbox(brand, "email", {"address": "support@shop.example", "smtp_host": "127.0.0.1", "smtp_port": port})
    customer = make.customer(brand, name="Amy", email="amy@example.com")
    conv = create_conversation(
        db,
        CreateConversation(
            brand_id=brand.id, customer_id=customer.id, channel="email", inbox_id=ib.id, subject="發票問題"
        ),
        actor=None,
    )
    db.flush()
    add_message(
        db,
        conv,
        sender_type="customer",
        body="請補寄發票",
        provider_message_id="<first@example.com>",
        meta={"references": []},
    )
    db.commit()
    agent = make.agent("agent", [brand])
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    h = {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}
    sent = client.post(
        f"/console/conversations/{conv.id}/messages",
        data={
            "body": "發票已補寄",
            "mode": "reply",
            "subject": "發票已補寄",
            "cc": "Boss@Example.com; acct@example.org",
        },
        headers=h,
    )
    assert sent.status_code == 200, sent.text
    assert jobs.drain()
    captured.wait(1)
    _, rcpt, msg = captured.messages[0]
    assert msg["Subject"].endswith("發票已補寄") and msg["Cc"] == "boss@example.com, acct@example.org"
    assert msg["In-Reply-To"] == "<first@example.com>" and msg["To"] == "amy@example.com"
    assert sorted(rcpt) == ["acct@example.org", "amy@example.com", "boss@example.com"]
    reply = db.scalars(select(Message).where(Message.conversation_id == conv.id, Message.sender_type == "agent")).one()
    assert reply.provider_message_id == msg["Message-ID"]  # customers' answers still thread back here
    # An internal note never carries email fields.
    client.post(
        f"/console/conversations/{conv.id}/messages",
        data={"body": "內部備註", "mode": "note", "cc": "boss@example.com"},
        headers=h,
    )
    note = db.scalars(select(Message).where(Message.conversation_id == conv.id, Message.is_note.is_(True))).one()
    assert "email" not in (note.meta or {})
