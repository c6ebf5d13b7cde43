"""Message board, phone call logs, the generic API channel, and one timeline across chat, email and LINE."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.channels.conftest import line_body, line_sign, line_text
from tests.channels.fakes import FakeApi


def test_board_form_page_and_submission(client: Any, make: Any, inbox: Any, db: Any, jobs: Any) -> None:
    from kefu.conversations.models import Conversation
    from kefu.tickets.models import Ticket

    brand = make.brand()
    ib = inbox(brand, "board", name="官網留言板")
    page = client.get(f"/api/v1/channels/board/{ib.id}")
    assert page.status_code == 200 and "留言板" in page.text and 'name="submission_id"' in page.text
    assert ">一般諮詢<" in page.text and "General" not in page.text  # the brand's language, not both at once
    form = {
        "name": "林小姐",
        "contact": "lin@example.com",
        "category": "order",
        "message": "訂單一直沒出貨\n請協助",
        "submission_id": "abcdef123456",
    }
    r = client.post(f"/api/v1/channels/board/{ib.id}", data=form)
    assert r.status_code == 201 and "案件編號" in r.text
    en = client.get(f"/api/v1/channels/board/{ib.id}", params={"lang": "en"}).text
    assert "Message board" in en and ">General question<" in en and "姓名" not in en and "一般諮詢" not in en
    assert ">一般咨询<" in client.get(f"/api/v1/channels/board/{ib.id}", params={"lang": "zh-CN"}).text
    r2 = client.post(f"/api/v1/channels/board/{ib.id}", json=form)  # same submission through JSON
    ticket = db.scalars(select(Ticket).where(Ticket.number == r2.json()["ticket_number"])).one()
    assert ticket.category == "order" and ticket.channel == "board" and ticket.subject == "訂單一直沒出貨"
    conv = db.get(Conversation, r2.json()["conversation_id"])
    assert conv.ticket_id == ticket.id
    assert db.scalar(select(Ticket.id).where(Ticket.brand_id == brand.id, Ticket.id != ticket.id)) is None
    bad = client.post(f"/api/v1/channels/board/{ib.id}", json={"name": "x", "contact": "", "message": ""})
    assert bad.status_code == 422
    bot = client.post(f"/api/v1/channels/board/{ib.id}", json={**form, "submission_id": "zzzzzzzz1", "website": "spam"})
    assert bot.status_code == 201 and "ticket_number" not in bot.json()
    assert jobs.drain()


def test_phone_call_log_in_timeline(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    call = {
        "brand_id": brand.id,
        "phone": "+886912345678",
        "name": "王先生",
        "direction": "inbound",
        "duration_seconds": 185,
        "outcome": "follow_up",
        "notes": "客戶反映帳單金額有誤，需財務確認",
    }
    r = client.post("/api/v1/channels/phone/calls", json=call, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["message"]["content_type"] == "call" and "3:05" in out["message"]["body"]
    tl = client.get(f"/api/v1/customers/{out['customer_id']}/timeline", headers=h).json()["items"]
    assert tl[0]["conversation_channel"] == "phone" and "財務確認" in tl[0]["body"]
    follow = client.post(
        "/api/v1/channels/phone/calls",
        headers=h,
        json={
            **call,
            "conversation_id": out["conversation_id"],
            "direction": "outbound",
            "outcome": "resolved",
            "duration_seconds": 60,
        },
    )
    assert follow.json()["conversation_id"] == out["conversation_id"]
    assert client.post("/api/v1/channels/phone/calls", json={**call, "phone": None}, headers=h).status_code == 422
    other = make.brand()
    assert (
        client.post("/api/v1/channels/phone/calls", json={**call, "brand_id": other.id}, headers=h).status_code == 404
    )


def test_api_channel_secret_inbound_and_signed_callback(client: Any, make: Any, inbox: Any, db: Any, jobs: Any) -> None:
    from kefu.channels.api_channel.adapter import sign
    from kefu.conversations.models import Conversation

    hook = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        brand = make.brand()
        ib = inbox(brand, "api", {"secret": "s3cret-inbox", "callback_url": f"{hook.url}/kefu"})
        url = f"/api/v1/channels/api/{ib.id}/messages"
        msg = {"id": "app-1", "user": {"id": "player-42", "name": "玩家42"}, "text": "儲值沒有到帳", "thread_id": "t-9"}
        assert client.post(url, json=msg, headers={"Authorization": "Bearer nope"}).status_code == 401
        r = client.post(url, json=msg, headers={"Authorization": "Bearer s3cret-inbox"})
        assert r.status_code == 202 and r.json() == {"accepted": 1}
        assert jobs.drain()
        assert client.post(url, json={"messages": [msg]}, headers={"X-Kefu-Inbox-Secret": "s3cret-inbox"}).json() == {
            "accepted": 0
        }
        assert jobs.drain()
        conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
        h = make.token(make.agent("agent", [brand]))
        client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "已補發"}, headers=h)
        assert jobs.drain()
        sent = hook.requests[0]
        assert json.loads(sent.body)["user_id"] == "player-42" and json.loads(sent.body)["text"] == "已補發"
        assert sent.headers["x-kefu-signature"] == sign("s3cret-inbox", sent.body) and sent.headers["idempotency-key"]
    finally:
        hook.close()


def test_chat_then_email_then_line_is_one_timeline(
    client: Any, make: Any, inbox: Any, db: Any, jobs: Any, session_factory: Any, line_api: Any
) -> None:
    from email.message import EmailMessage

    from kefu.channels.email.adapter import parse_raw
    from kefu.channels.service import record_inbound
    from kefu.channels.web_chat.token import verify
    from kefu.customers.models import CustomerIdentity

    def client_visitor(token: str) -> str:
        visitor = verify(token)
        assert visitor is not None
        return visitor.visitor_id

    brand = make.brand()
    chat = inbox(brand, "web_chat")
    mail = inbox(brand, "email", {"address": "help@shop.example"})
    line = inbox(brand, "line", {"channel_secret": "sec", "channel_access_token": "t", "api_base": line_api.url})
    h = make.token(make.agent("agent", [brand]))

    # 1. Chat, with the pre-chat email.
    s = client.post(
        "/api/v1/widget/session", json={"inbox_id": chat.id, "email": "mei@example.com", "name": "Mei"}
    ).json()
    client.post(
        "/api/v1/widget/messages", json={"body": "(chat) 我想改地址"}, headers={"X-Kefu-Visitor": s["visitor_token"]}
    )
    assert jobs.drain()
    # 2. Email from the same address.
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = (
        "Mei <mei@example.com>",
        "help@shop.example",
        "改地址",
        "<e1@example.com>",
    )
    m.set_content("(email) 新地址如下")
    record_inbound(db, mail, [parse_raw(m.as_bytes())])
    db.commit()
    assert jobs.drain()
    # The pre-chat email is only a claim until Mei opens the link mailed to that address (#16).
    from kefu.channels.models import OutboxMessage

    claim = db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "mei@example.com")).first()
    token = claim.payload["text"].split("verify?token=")[1].split()[0]
    assert client.post("/api/v1/widget/verify", data={"token": token}).status_code == 200
    # 3. LINE: a separate customer until an agent merges the two.
    body = line_body(line_text("LEV1", "Umei", "(line) 地址改好了嗎？"))
    client.post(
        f"/api/v1/channels/line/{line.id}/webhook", content=body, headers={"X-Line-Signature": line_sign("sec", body)}
    )
    assert jobs.drain()

    customers = client.get("/api/v1/customers", params={"brand_id": brand.id}, headers=h).json()["items"]
    assert len(customers) == 2  # chat and email already share one customer (by the email address)

    def owner(kind: str, external_id: str) -> int:
        return db.scalar(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.brand_id == brand.id,
                CustomerIdentity.kind == kind,
                CustomerIdentity.external_id == external_id,
            )
        )

    mei = {"id": owner("email", "mei@example.com")}
    assert owner("web", client_visitor(s["visitor_token"])) == mei["id"]
    merged = client.post(f"/api/v1/customers/{mei['id']}/merge", json={"source_id": owner("line", "Umei")}, headers=h)
    assert merged.status_code == 200

    items = client.get(f"/api/v1/customers/{mei['id']}/timeline", headers=h).json()["items"]
    assert [(i["conversation_channel"], i["body"].strip()) for i in reversed(items)] == [
        ("web_chat", "(chat) 我想改地址"),
        ("email", "(email) 新地址如下"),
        ("line", "(line) 地址改好了嗎？"),
    ]
    # After the merge, new LINE messages land on the same person.
    body = line_body(line_text("LEV2", "Umei", "(line) 謝謝"))
    client.post(
        f"/api/v1/channels/line/{line.id}/webhook", content=body, headers={"X-Line-Signature": line_sign("sec", body)}
    )
    assert jobs.drain()
    items = client.get(f"/api/v1/customers/{mei['id']}/timeline", headers=h).json()["items"]
    assert items[0]["body"] == "(line) 謝謝"


def test_a_board_post_does_not_name_the_contacts_customer(client: Any, make: Any, inbox: Any, db: Any) -> None:
    """The typed contact files the post under its customer, but proves nothing: a stranger's post does not write a
    name onto that customer's record (agents and mail greet them by it); a new contact is named as typed."""
    from kefu.customers.models import Customer

    brand = make.brand()
    ib = inbox(brand, "board")
    known = make.customer(brand, name="", email="quiet@example.com")
    db.commit()
    post = {
        "name": "請改撥 0900-000-000",
        "contact": "quiet@example.com",
        "message": "hi",
        "submission_id": "s-known-01",
    }
    assert client.post(f"/api/v1/channels/board/{ib.id}", json=post).status_code == 201
    db.expire_all()
    assert db.get(Customer, known.id).name == ""
    new = {**post, "name": "林小姐", "contact": "new@example.com", "submission_id": "s-new-0001"}
    assert client.post(f"/api/v1/channels/board/{ib.id}", json=new).status_code == 201
    assert db.scalars(select(Customer.name).where(Customer.email == "new@example.com")).one() == "林小姐"
