"""Every contact becomes a case (#17): email, phone, LINE in human mode, staff API tickets; lifecycle with the chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation
from tests.channels.conftest import line_body, line_sign, line_text
from tests.channels.test_email import _email_inbox, _mail, _send
from tests.channels.test_email import receiver as receiver


def _brand_with_defaults(client: Any, make: Any) -> tuple[Any, dict[str, str], dict[str, int]]:
    brand = make.brand()
    admin = make.token(make.agent("admin"))
    r = client.post("/api/v1/sla/defaults", json={"brand_id": brand.id, "categories": True}, headers=admin)
    assert r.status_code == 200, r.text
    teams = {}
    for slug in ("finance", "general"):
        t = client.post("/api/v1/teams", json={"brand_id": brand.id, "slug": slug, "name": slug}, headers=admin)
        assert t.status_code == 201, t.text
        teams[slug] = t.json()["id"]
    return brand, admin, teams


def test_email_becomes_a_classified_routed_case_with_a_30_minute_clock(
    client: Any,
    make: Any,
    db: Any,
    jobs: Any,
    inbox: Any,
    receiver: Any,
    upstream: Any,
) -> None:
    from kefu.conversations.models import Conversation, Message

    brand, admin, teams = _brand_with_defaults(client, make)
    _, up_port = upstream
    ib = _email_inbox(inbox, brand, up_port)
    _send(
        receiver,
        _mail("Chen <chen@example.com>", "訂單 B5566 付款被扣款兩次", "我的信用卡被扣了兩次，請退一筆。"),
        jobs,
    )

    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    first = db.scalars(select(Message).where(Message.conversation_id == conv.id)).one()
    assert conv.ticket_id is not None and conv.team_id == teams["finance"]
    t = client.get(f"/api/v1/tickets/{conv.ticket_id}", headers=admin).json()
    assert t["category"] == "payment_failure" and t["team_id"] == teams["finance"] and t["channel"] == "email"
    assert t["subject"] == "訂單 B5566 付款被扣款兩次" and t["priority"] == "high"
    sla = client.get(f"/api/v1/tickets/{conv.ticket_id}/sla", headers=admin).json()
    assert sla["policy_name"] == "finance.payment_failure"
    frt = next(x for x in sla["targets"] if x["key"] == "first_response")
    assert abs(_at(frt["due_at"]) - (first.created_at + timedelta(minutes=30))) < timedelta(seconds=1)

    # The same thread continuing does not open a second case.
    msgid = first.provider_message_id
    _send(
        receiver,
        _mail("chen@example.com", "Re: 訂單 B5566 付款被扣款兩次", "補充：卡號末四碼 1234", in_reply_to=msgid),
        jobs,
    )
    assert client.get("/api/v1/tickets", params={"brand_id": brand.id}, headers=admin).json()["items"].__len__() == 1


def _at(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_phone_call_opens_a_case_and_a_call_solved_on_the_spot_is_resolved(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    call = {
        "brand_id": brand.id,
        "phone": "+886912000111",
        "direction": "inbound",
        "duration_seconds": 120,
        "outcome": "follow_up",
        "notes": "刷卡付款失敗，交易失敗代碼 05",
    }
    r = client.post("/api/v1/channels/phone/calls", json=call, headers=h)
    assert r.status_code == 201, r.text
    t = client.get(f"/api/v1/tickets/{r.json()['ticket_id']}", headers=h).json()
    assert t["channel"] == "phone" and t["category"] == "payment_failure" and t["status"] in ("new", "open")
    assert t["first_response_at"] is not None  # the agent answered the call
    solved = client.post(
        "/api/v1/channels/phone/calls", json={**call, "phone": "+886912000222", "outcome": "resolved"}, headers=h
    )
    t2 = client.get(f"/api/v1/tickets/{solved.json()['ticket_id']}", headers=h).json()
    assert t2["status"] == "resolved" and t2["id"] != t["id"]
    # An outbound call is not a new contact from the customer: no case of its own.
    out = client.post(
        "/api/v1/channels/phone/calls", json={**call, "phone": "+886912000333", "direction": "outbound"}, headers=h
    )
    assert out.status_code == 201 and out.json()["ticket_id"] is None


def _line(client: Any, inbox_id: int, *events: dict[str, Any]) -> Any:
    body = line_body(*events)
    r = client.post(
        f"/api/v1/channels/line/{inbox_id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign("s3cret", body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return r


def test_line_in_human_mode_opens_a_case_bot_mode_waits_for_handoff_policy_never_opens_none(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    from kefu.conversations.models import Conversation

    brand = make.brand()
    admin = make.token(make.agent("admin"))
    human = inbox(brand, "line", {"channel_secret": "s3cret", "channel_access_token": "t"}, name="human")
    bot = inbox(
        brand, "line", {"channel_secret": "s3cret", "channel_access_token": "t", "initial_status": "bot"}, name="bot"
    )
    never = inbox(
        brand, "line", {"channel_secret": "s3cret", "channel_access_token": "t", "case_policy": "never"}, name="n"
    )
    bad = client.post(
        f"/api/v1/brands/{brand.id}/inboxes",
        json={"kind": "email", "name": "x", "config": {"case_policy": "sometimes"}},
        headers=admin,
    )
    assert bad.status_code == 422 and "case_policy" in bad.json()["detail"]
    _line(client, human.id, line_text("E1", "U1", "我的包裹三天了還沒到貨"))
    _line(client, bot.id, line_text("E2", "U2", "營業時間是幾點"))
    _line(client, never.id, line_text("E3", "U3", "你好"))
    jobs.drain()
    db.expire_all()
    by_inbox = {c.inbox_id: c for c in db.scalars(select(Conversation).where(Conversation.brand_id == brand.id))}
    assert by_inbox[human.id].ticket_id is not None
    assert by_inbox[bot.id].ticket_id is None and by_inbox[never.id].ticket_id is None
    t = client.get(f"/api/v1/tickets/{by_inbox[human.id].ticket_id}", headers=admin).json()
    assert t["category"] == "logistics" and t["channel"] == "line"


def test_closing_the_conversation_resolves_the_case_customer_reply_reopens_confirm_archives(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    ib = inbox(brand, "line", {"channel_secret": "s3cret", "channel_access_token": "t"})
    _line(client, ib.id, line_text("E1", "U9", "帳號被盜了，密碼被改"))
    jobs.drain()
    conv = client.get("/api/v1/conversations", params={"brand_id": brand.id}, headers=h).json()["items"][0]
    tid = conv["ticket_id"]
    assert client.get(f"/api/v1/tickets/{tid}", headers=h).json()["status"] in ("new", "open")

    closed = client.patch(f"/api/v1/conversations/{conv['id']}", json={"status": "closed"}, headers=h)
    assert closed.status_code == 200
    t = client.get(f"/api/v1/tickets/{tid}", headers=h).json()
    assert t["status"] == "resolved"  # no longer inflating the backlog as 新建
    acts = client.get(f"/api/v1/tickets/{tid}/activities", headers=h).json()
    assert any(a["kind"] == "resolve" and a["public"] for a in acts)

    # The customer writes again on the same LINE account: the resolved case reopens (new conversation, same case).
    _line(client, ib.id, line_text("E2", "U9", "還是登不進去"))
    jobs.drain()
    t = client.get(f"/api/v1/tickets/{tid}", headers=h).json()
    assert t["status"] == "open" and t["reopen_count"] == 1

    # Resolved again, the customer confirms on the portal: archived (closed).
    convs = client.get("/api/v1/conversations", params={"brand_id": brand.id}, headers=h).json()["items"]
    for c in convs:
        client.patch(f"/api/v1/conversations/{c['id']}", json={"status": "closed"}, headers=h)
    assert client.get(f"/api/v1/tickets/{tid}", headers=h).json()["status"] == "resolved"
    patched = client.patch(f"/api/v1/customers/{convs[0]['customer_id']}", json={"email": "u9@example.com"}, headers=h)
    assert patched.status_code == 200, patched.text
    number = client.get(f"/api/v1/tickets/{tid}", headers=h).json()["number"]
    ok = client.post("/api/v1/public/tickets/confirm", json={"number": number, "contact": "u9@example.com"})
    assert ok.status_code == 200, ok.text
    assert client.get(f"/api/v1/tickets/{tid}", headers=h).json()["status"] == "closed"

    # After archiving, a new message opens a follow-up case linked to the old one.
    _line(client, ib.id, line_text("E3", "U9", "又被盜了"))
    jobs.drain()
    convs = client.get("/api/v1/conversations", params={"brand_id": brand.id}, headers=h).json()["items"]
    newest = max(convs, key=lambda c: c["id"])
    assert newest["ticket_id"] not in (None, tid)
    links = client.get(f"/api/v1/tickets/{newest['ticket_id']}/links", headers=h).json()
    assert [(lk["source_id"], lk["kind"]) for lk in links] == [(tid, "related")]


def test_staff_created_tickets_are_classified_unless_a_category_is_given(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "客戶反映重複扣款"}, headers=h)
    assert r.status_code == 201 and r.json()["category"] == "payment_failure"
    assert r.json()["category_source"] == "auto"
    r = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "客戶反映重複扣款", "category": "refund"}, headers=h
    )
    assert r.json()["category"] == "refund" and r.json()["category_source"] == "manual"


def test_a_complaint_arriving_on_any_channel_gets_its_complaint_record_and_deadlines(
    client: Any, make: Any, jobs: Any, inbox: Any
) -> None:
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    ib = inbox(brand, "line", {"channel_secret": "s3cret", "channel_access_token": "t"})
    _line(client, ib.id, line_text("E1", "U7", "我要投訴，客服態度差，要求賠償"))
    jobs.drain()
    conv = client.get("/api/v1/conversations", params={"brand_id": brand.id}, headers=h).json()["items"][0]
    t = client.get(f"/api/v1/tickets/{conv['ticket_id']}", headers=h).json()
    assert t["category"] == "complaint" and t["custom_fields"]["complaint_level"] == "normal"
    items = client.get("/api/v1/complaints", params={"brand_id": brand.id}, headers=h).json()["items"]
    assert [(c["ticket_id"], c["channel"], c["status"]) for c in items] == [(t["id"], "line", "received")]
    assert items[0]["acknowledge_due_at"] < items[0]["reply_due_at"]


def test_a_message_on_an_open_case_costs_one_query_in_intake(db: Any, make: Any, inbox: Any) -> None:
    from sqlalchemy import event

    from kefu.conversations.service import add_message, create_conversation
    from kefu.tickets.intake import ensure_case

    brand = make.brand()
    ib = inbox(brand, "email")
    customer = make.customer(brand, email="q@example.com")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="email", inbox_id=ib.id), actor=None
    )
    first, _ = add_message(db, conv, sender_type="customer", body="請問發票")
    assert ensure_case(db, conv, first) is not None
    db.commit()
    second, _ = add_message(db, conv, sender_type="customer", body="補充統編")
    db.expire_all()  # nothing cached: count what a fresh worker would run
    statements: list[str] = []
    engine = db.get_bind()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        conv = db.get(type(conv), conv.id)
        second = db.get(type(second), second.id)
        statements.clear()
        ensure_case(db, conv, second)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements  # the linked ticket; an open case needs nothing else


def test_admin_sets_an_inbox_case_policy(client: Any, make: Any, db: Any, inbox: Any) -> None:
    from kefu.brands.models import Inbox
    from tests.web.test_admin_pages import _login

    brand = make.brand()
    admin = make.agent("admin")
    ib = inbox(brand, "email", {"address": "help@shop.example"})
    h = _login(client, admin)
    page = client.get(f"/admin?tab=inboxes&brand_id={brand.id}")
    assert page.status_code == 200 and 'name="cfg_case_policy"' in page.text and "轉真人客服時建案" in page.text
    form = {"name": ib.name, "is_active": "1", "cfg_address": "help@shop.example", "cfg_case_policy": "handoff"}
    assert client.post(f"/admin/inboxes/{ib.id}", data=form, headers=h).status_code == 200
    db.expire_all()
    assert db.get(Inbox, ib.id).config["case_policy"] == "handoff"
    bad = client.post(f"/admin/inboxes/{ib.id}", data={**form, "cfg_case_policy": "always"}, headers=h)
    assert bad.status_code == 422 and "請從清單中選擇。" in bad.text  # shown next to the field on the form
    db.expire_all()
    assert db.get(Inbox, ib.id).config["case_policy"] == "handoff"
