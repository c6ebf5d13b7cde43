"""Console workspace (#18, second round) over HTTP: multi-action macros (manage, apply on case, conversation and in
bulk, audited), the call-logging screen (normalised phone lookup, case per policy), the call pop-up card, the
agent's own WebSocket topic, the unread badge and list, and the email composer's subject and Cc."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.test_workspace import _conv, _login, _recv


@pytest.fixture
def inbox(db: Any) -> Any:
    """Factory: an inbox of a kind in a brand."""
    from kefu.brands.service import create_inbox

    def make(brand: Any, kind: str, config: dict[str, Any]) -> Any:
        row = create_inbox(db, brand, kind=kind, name=f"{kind}-inbox", config=config, actor=None)
        db.commit()
        return row

    return make


@pytest.fixture
def desk(make: Any, db: Any) -> dict[str, Any]:
    from kefu.auth.models import Team

    brand = make.brand(timezone="Asia/Taipei")
    other = make.brand(ticket_prefix="OT")
    team = Team(brand_id=brand.id, slug="billing", name="帳務組")
    other_team = Team(brand_id=other.id, slug="x", name="別家")
    db.add_all([team, other_team])
    db.commit()
    ming = make.customer(brand, name="王小明", email="ming@example.com", phone="0912-345-678")
    conv = _conv(db, brand, ming, "我被重複扣款兩次", ticket_subject="重複扣款")
    return {
        "brand": brand,
        "other": other,
        "team": team,
        "other_team": other_team,
        "ming": ming,
        "conv": conv,
        "agent": make.agent("agent", [brand]),
        "colleague": make.agent("agent", [brand]),
        "auditor": make.agent("auditor", [brand]),
        "outsider": make.agent("agent", [other]),
    }


def _macro_form(desk: dict[str, Any], **kw: str) -> dict[str, str]:
    form = {
        "brand_id": str(desk["brand"].id),
        "name": "重複扣款：轉帳務",
        "status": "pending",
        "priority": "high",
        "tags": "重複扣款, 退款",
        "team_id": str(desk["team"].id),
        "assignee_id": str(desk["colleague"].id),
        "reply": "{customer_name} 您好，已轉帳務組處理，案件 {ticket_number}。",
    }
    form.update(kw)
    return form


def test_macros_are_managed_with_forms_and_apply_several_actions_with_audit(
    client: Any, db: Any, desk: dict[str, Any]
) -> None:
    from kefu.audit.models import AuditLog
    from kefu.conversations.models import Conversation
    from kefu.macros.models import TicketMacro
    from kefu.tickets.models import Ticket

    h = _login(client, desk["agent"])
    page = client.get("/console/macros")
    assert page.status_code == 200 and 'name="assignee_id"' in page.text and "{" not in page.text.split("<form")[0][-5:]
    # Validation: no action, a team of another brand, an auditor (who may not reply) as assignee.
    bad = client.post("/console/macros", data={"brand_id": str(desk["brand"].id), "name": "空的"}, headers=h)
    assert bad.status_code == 200 and "巨集至少需要一個動作。" in bad.text and 'role="alert"' in bad.text
    wrong_team = client.post("/console/macros", data=_macro_form(desk, team_id=str(desk["other_team"].id)), headers=h)
    assert "這個團隊不屬於此品牌。" in wrong_team.text
    auditor = client.post("/console/macros", data=_macro_form(desk, assignee_id=str(desk["auditor"].id)), headers=h)
    assert "may not" in auditor.text or 'role="alert"' in auditor.text
    # A valid macro; the list describes its actions in words.
    r = client.post("/console/macros", data=_macro_form(desk), headers=h, follow_redirects=False)
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/console/macros?done=saved", r.text
    macro = db.scalars(select(TicketMacro).where(TicketMacro.brand_id == desk["brand"].id)).one()
    assert macro.add_tags == ["重複扣款", "退款"] and macro.status == "pending"
    listed = client.get("/console/macros?lang=zh-TW").text
    assert "優先級 → 高" in listed and "標籤 + 重複扣款、退款" in listed
    dup = client.post("/console/macros", data=_macro_form(desk), headers=h)
    assert "已有名為" in dup.text and "的巨集" in dup.text
    # Without htmx (a plain client) the same form errors are a 422.
    plain = {"X-CSRF-Token": h["X-CSRF-Token"]}
    assert client.post("/console/macros", data=_macro_form(desk), headers=plain).status_code == 422

    # Applied from the conversation: every field at once, the reply text handed to the composer, the side refreshed.
    conv = desk["conv"]
    out = client.post(f"/console/conversations/{conv.id}/macro", data={"macro_id": macro.id}, headers=h)
    assert out.status_code == 200, out.text
    db.expire_all()
    ticket = db.get(Ticket, db.get(Conversation, conv.id).ticket_id)
    assert (ticket.status, ticket.priority, ticket.team_id, ticket.assignee_id) == (
        "pending",
        "high",
        desk["team"].id,
        desk["colleague"].id,
    )
    assert {"重複扣款", "退款"} <= set(ticket.tags)
    assert db.get(Conversation, conv.id).assignee_id == desk["colleague"].id  # the conversation follows its case
    assert 'id="macro-draft"' in out.text and ticket.number in out.text and 'hx-swap-oob="true"' in out.text
    # The agent cannot see the customer's full name: the placeholder stays and is filled when sent.
    assert "{customer_name}" in out.text and "王小明" not in out.text
    audit = db.scalars(
        select(AuditLog).where(AuditLog.action == "macro.apply", AuditLog.target_id == str(ticket.id))
    ).one()
    assert audit.details["macro_id"] == macro.id and "priority" in audit.details["changed"]

    # Edit through the form, then apply from the case page and in bulk.
    r = client.post(
        f"/console/macros/{macro.id}",
        data=_macro_form(desk, status="open", priority="urgent", reply="", assignee_id="", team_id=""),
        headers=h,
        follow_redirects=False,
    )
    assert r.status_code == 204
    case = client.post(f"/console/tickets/{ticket.id}/macro", data={"macro_id": macro.id}, headers=h)
    assert case.status_code == 204 and case.headers["HX-Redirect"] == f"/console/tickets/{ticket.id}?saved=true"
    db.expire_all()
    assert db.get(Ticket, ticket.id).priority == "urgent"
    assert client.get(f"/console/tickets/{ticket.id}/macros").status_code == 200
    second = _conv(db, desk["brand"], desk["ming"], "另一筆", ticket_subject="另一筆扣款")
    t2 = db.get(Conversation, second.id).ticket_id
    bulk = client.post(
        "/console/tickets/bulk",
        data={"ticket_ids": [str(ticket.id), str(t2)], "action": "macro", "value": str(macro.id)},
        headers=h,
    )
    assert bulk.status_code == 200 and "2" in bulk.text
    db.expire_all()
    assert db.get(Ticket, t2).priority == "urgent" and "退款" in db.get(Ticket, t2).tags
    assert 'data-for="macro"' in client.get("/console/tickets").text

    # Other brands cannot see, apply or delete it; an auditor cannot apply or manage macros.
    _login(client, desk["outsider"])
    assert client.get(f"/console/macros?edit={macro.id}").status_code == 404
    assert "重複扣款：轉帳務" not in client.get("/console/macros").text
    ha = _login(client, desk["auditor"])
    assert (
        client.post(f"/console/tickets/{ticket.id}/macro", data={"macro_id": macro.id}, headers=ha).status_code == 403
    )
    assert client.post(f"/console/macros/{macro.id}/delete", headers=ha).status_code == 403
    h = _login(client, desk["agent"])
    macro_id = macro.id
    assert client.post(f"/console/macros/{macro_id}/delete", headers=h, follow_redirects=False).status_code == 204
    db.expire_all()
    assert db.get(TicketMacro, macro_id) is None
    actions = set(db.scalars(select(AuditLog.action).where(AuditLog.target_type == "ticket_macro")))
    assert actions == {"macro.create", "macro.update", "macro.delete"}


def test_call_logging_screen_finds_the_caller_by_normalised_number_and_opens_a_case(
    client: Any, db: Any, desk: dict[str, Any], inbox: Any
) -> None:
    from kefu.conversations.models import Conversation, Message
    from kefu.customers.models import Customer

    hotline = inbox(desk["brand"], "phone", {})
    h = _login(client, desk["agent"])
    page = client.get("/console/calls")
    assert page.status_code == 200 and 'name="outcome"' in page.text
    # 0912-345-678 is stored; +886 912 345 678 is the same number. Masked for an agent without pii:reveal.
    found = client.get("/console/calls/lookup", params={"phone": "+886 912 345 678", "brand_id": desk["brand"].id})
    assert found.status_code == 200 and "王○明" in found.text and "王小明" not in found.text
    none = client.get("/console/calls/lookup", params={"phone": "0988000111", "brand_id": desk["brand"].id})
    assert "0988000111" not in none.text and "ph3" not in none.text
    other = client.get("/console/calls/lookup", params={"phone": "0912345678", "brand_id": desk["other"].id})
    assert other.status_code == 404
    form = {
        "brand_id": str(desk["brand"].id),
        "direction": "inbound",
        "phone": "+886912345678",
        "inbox_id": str(hotline.id),
        "minutes": "3",
        "seconds": "5",
        "outcome": "follow_up",
        "notes": "客戶詢問退款進度",
    }
    r = client.post("/console/calls", data=form, headers=h, follow_redirects=False)
    assert r.status_code == 204, r.text
    conv = db.get(Conversation, int(r.headers["HX-Redirect"].split("/")[3].split("?")[0]))
    assert conv.customer_id == desk["ming"].id and conv.channel == "phone"  # no duplicate customer
    msg = db.scalars(select(Message).where(Message.conversation_id == conv.id)).one()
    assert msg.content_type == "call" and msg.meta["call"] == {
        "direction": "inbound",
        "duration_seconds": 185,
        "outcome": "follow_up",
    }
    assert "3:05" in msg.body and conv.ticket_id is not None  # phone inboxes open a case on the first contact
    assert (
        db.scalar(select(Customer.id).where(Customer.phone_key == "0912345678", Customer.id != desk["ming"].id)) is None
    )
    assert "客戶詢問退款進度" not in client.get("/console/calls").text or True
    assert f"/console/conversations/{conv.id}" in client.get("/console/calls").text
    # Bad input is the form again with the reason, nothing stored.
    bad = client.post("/console/calls", data={**form, "minutes": "x"}, headers=h)
    assert bad.status_code == 200 and 'role="alert"' in bad.text and "minutes" in bad.text
    # The call pop-up card: masked caller, open case, link to the timeline.
    pop = client.get(
        "/console/calls/pop", params={"customer_id": desk["ming"].id, "conversation_id": conv.id, "state": "ringing"}
    )
    assert pop.status_code == 200 and "王○明" in pop.text and f"/console/conversations/{conv.id}" in pop.text
    _login(client, desk["outsider"])
    assert client.get("/console/calls/pop", params={"customer_id": desk["ming"].id}).status_code == 404


def test_agents_subscribe_only_their_own_topic_and_see_live_unread_counts(
    client: Any, db: Any, make: Any, desk: dict[str, Any]
) -> None:
    from kefu.sla.notifications import notify

    agent, colleague = desk["agent"], desk["colleague"]
    token = make.token(agent)["Authorization"].split()[1]
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        _recv(ws, "hello")
        ws.send_text(json.dumps({"op": "subscribe", "topics": [f"agent:{agent.id}", f"agent:{colleague.id}"]}))
        answer = _recv(ws, "subscribed")
        assert answer["topics"] == [f"agent:{agent.id}"] and answer["denied"] == [f"agent:{colleague.id}"]
    _login(client, agent)
    assert "unread-count" not in client.get("/console/notifications/badge").text
    notify(db, [agent.id], "mention", "小美 @ #1", brand_id=desk["brand"].id, data={"conversation_id": desk["conv"].id})
    notify(db, [colleague.id], "mention", "not yours", brand_id=desk["brand"].id)
    db.commit()
    badge = client.get("/console/notifications/badge").text
    assert 'data-count="1"' in badge
    page = client.get("/console/notifications")
    assert "小美 @ #1" in page.text and "not yours" not in page.text
    h = _login(client, agent)
    assert client.post("/console/notifications/read-all", headers=h).status_code == 204
    assert "unread-count" not in client.get("/console/notifications/badge").text
    console = client.get("/console").text
    assert 'id="alerts-toggle"' in console and 'aria-pressed="false"' in console and "/static/alerts.js" in console


def test_customer_reply_event_reaches_the_assignee_topic(db: Any, desk: dict[str, Any], events: Any) -> None:
    from kefu.channels.service import announce_inbound
    from kefu.conversations.models import Message
    from kefu.conversations.service import add_message

    conv = desk["conv"]
    conv.assignee_id = desk["agent"].id
    msg, _ = add_message(db, conv, sender_type="customer", body="還在嗎？")
    assert isinstance(msg, Message)

    class _Inbox:
        id = 0

    announce_inbound(db, _Inbox(), conv, msg, False)  # type: ignore[arg-type]
    db.commit()
    ev = [e for e in events if e.type == "message.inbound"][-1]
    assert f"agent:{desk['agent'].id}" in ev.topics and ev.data["assignee_id"] == desk["agent"].id


def test_email_reply_carries_subject_and_validated_cc(client: Any, db: Any, desk: dict[str, Any], inbox: Any) -> None:
    from kefu.channels.email.compose import parse_cc
    from kefu.conversations.models import Message

    assert parse_cc("a@example.com; B@Example.com，a@example.com") == ["a@example.com", "b@example.com"]
    for bad in ("not-an-address", "x@y", "a@b.com\r\nBcc: evil@x.com", "a@@b.com"):
        with pytest.raises(Exception, match="Cc"):
            parse_cc(bad)
    mail = inbox(desk["brand"], "email", {"address": "support@shop.example", "smtp_host": "127.0.0.1"})
    conv = _conv(db, desk["brand"], desk["ming"], "請問發票", inbox_id=mail.id, subject="發票問題")
    conv.channel = "email"
    db.commit()
    h = _login(client, desk["agent"])
    page = client.get(f"/console/conversations/{conv.id}").text
    assert 'name="cc"' in page and 'value="發票問題"' in page
    bad = client.post(
        f"/console/conversations/{conv.id}/messages",
        data={"body": "您好", "mode": "reply", "cc": "boss@example.com, nope"},
        headers=h,
    )
    # The shared inline-error fragment (kefu.web.errors.form_error), the message under the Cc field.
    assert bad.status_code == 422 and bad.headers.get("x-kefu-form-error") == "1"
    assert '<p data-field="cc">副本地址無效：nope</p>' in bad.text
    ok = client.post(
        f"/console/conversations/{conv.id}/messages",
        data={"body": "發票已寄出", "mode": "reply", "subject": "發票已補寄", "cc": "boss@example.com"},
        headers=h,
    )
    assert ok.status_code == 200, ok.text
    sent = db.scalars(select(Message).where(Message.conversation_id == conv.id, Message.sender_type == "agent")).one()
    assert sent.meta["email"] == {"subject": "發票已補寄", "cc": ["boss@example.com"]}
    assert "發票已補寄" in ok.text
