"""A widget visitor claiming someone's email stays a separate, unverified customer until a mailed link proves it."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation


def _session(client: Any, ib: Any, brand: Any, **kw: Any) -> dict[str, Any]:
    r = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_claim_is_unverified_until_the_mailed_link_is_opened(client: Any, make: Any, db: Any, inbox: Any) -> None:
    from kefu.bot.service import ticket_status_text
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation
    from kefu.customers.models import Customer
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    ib = inbox(brand, "web_chat")
    mailbox = inbox(brand, "email", {"address": "support@shop.example", "smtp_host": "127.0.0.1"})
    victim = make.customer(brand, name="王小明", email="victim@example.com")
    ticket = create_ticket(db, brand_id=brand.id, subject="退款", actor=None, customer_id=victim.id)
    db.commit()

    token = _session(client, ib, brand, name="Mallory", email="Victim@Example.com")["visitor_token"]
    sent = client.post(
        "/api/v1/widget/messages", json={"body": f"{ticket.number} 進度?"}, headers={"X-Kefu-Visitor": token}
    )
    assert sent.status_code == 201
    conv = db.get(Conversation, sent.json()["conversation_id"])
    assert conv.customer_id != victim.id
    claimant = db.get(Customer, conv.customer_id)
    assert claimant.attributes["claimed_email"] == "victim@example.com" and claimant.email is None
    # The bot's ticket-status answer reveals nothing to the claimant.
    assert "查無" in ticket_status_text(db, conv, ticket.number, "zh-TW")

    # The owner of the address got the link (once, however often the session is reopened).
    _session(client, ib, brand, visitor_token=token, email="victim@example.com")
    mails = list(db.scalars(select(OutboxMessage).where(OutboxMessage.inbox_id == mailbox.id)))
    assert len(mails) == 1 and mails[0].recipient == "victim@example.com"
    link = re.search(r"/api/v1/widget/verify\?token=(\S+)", mails[0].payload["text"])
    assert link is not None

    assert client.get("/api/v1/widget/verify", params={"token": link.group(1) + "x"}).status_code == 422
    assert client.get("/api/v1/widget/verify", params={"token": link.group(1)}).status_code == 200
    db.expire_all()
    assert db.get(Conversation, conv.id).customer_id != victim.id  # opening the link only asks
    assert client.post("/api/v1/widget/verify", data={"token": link.group(1) + "x"}).status_code == 422
    assert client.post("/api/v1/widget/verify", data={"token": link.group(1)}).status_code == 200
    db.expire_all()
    assert db.get(Conversation, conv.id).customer_id == victim.id
    assert "查無" not in ticket_status_text(db, db.get(Conversation, conv.id), ticket.number, "zh-TW")


def test_claim_tokens_expire_and_cannot_be_forged(db: Any, make: Any) -> None:
    import time

    from kefu.customers.claims import read_claim, record_claim

    brand = make.brand()
    c = make.customer(brand, name="x")
    token = record_claim(db, c, "email", "a@example.com")
    assert read_claim(token) is not None
    assert read_claim(token, now=time.time() + 25 * 3600) is None
    body, sig = token.split(".")
    assert read_claim(body[:-2] + "AA." + sig) is None


def test_forged_email_sender_is_not_a_verified_owner(db: Any, make: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.customers.claims import verified_owner

    brand = make.brand()
    c = make.customer(brand, name="x", email="v@example.com")
    conv = create_conversation(db, CreateConversation(brand_id=brand.id, customer_id=c.id, channel="email"), actor=None)
    add_message(db, conv, sender_type="customer", body="hi")
    assert verified_owner(db, conv, c.id)
    add_message(db, conv, sender_type="customer", body="hi", meta={"unverified_sender": True})
    assert not verified_owner(db, conv, c.id)
