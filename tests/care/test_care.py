"""Proactive care (#17, seed 004 「主動關懷」): each rule raises one opportunity per customer and reason, agents reach
out (consent-checked, through the outbox after commit), dismiss or convert, and the outcomes are counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kefu.conversations.commands import CreateConversation
from tests.channels.stub_http import StubServer


@pytest.fixture
def gateway() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _detect() -> None:
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs

    load_jobs()
    run_job("care.detect", {})


def _queue(client: Any, h: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/care", params={"status": "", **params}, headers=h)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _conv(db: Any, brand: Any, customer: Any, channel: str = "api", inbox_id: int | None = None) -> Any:
    from kefu.conversations.service import create_conversation

    cmd = CreateConversation(brand_id=brand.id, customer_id=customer.id, channel=channel, inbox_id=inbox_id)
    return create_conversation(db, cmd, actor=None)


def test_topic_rule_fires_once_per_customer_and_reason_and_only_in_its_brand(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import add_message
    from kefu.knowledge.models import FaqEntry

    brand, other = make.brand(), make.brand(ticket_prefix="OT")
    h = make.token(make.agent("supervisor", [brand]))
    ho = make.token(make.agent("supervisor", [other]))
    admin = make.token(make.agent("admin"))
    alice = make.customer(brand, name="王小美")
    bob = make.customer(other, name="李大同")
    # Alice: two cases about billing plus one bot answer from a billing FAQ on chat = 3 asks across channels.
    for n in range(2):
        body = {"brand_id": brand.id, "subject": f"帳單問題 {n}", "customer_id": alice.id, "category": "billing"}
        assert client.post("/api/v1/tickets", json=body, headers=admin).status_code == 201
    faq = FaqEntry(brand_id=brand.id, locale="zh-TW", questions=["帳單怎麼查"], answer="在會員中心", category="billing")
    db.add(faq)
    db.flush()
    conv = _conv(db, brand, alice)
    add_message(db, conv, sender_type="bot", body="在會員中心", meta={"faq_id": faq.id, "intent": "bill"})
    # Bob asks 3 times too, but his brand wants 5 before anyone is alerted.
    rules = client.get(f"/api/v1/brands/{other.id}/care-rules", headers=ho).json()
    assert rules["topic_repeats"] == 3 and rules["topic_window_hours"] == 24  # the documented defaults
    r = client.put(f"/api/v1/brands/{other.id}/care-rules", json={**rules, "topic_repeats": 5}, headers=ho)
    assert r.status_code == 200 and r.json()["topic_repeats"] == 5
    assert client.put(f"/api/v1/brands/{brand.id}/care-rules", json=rules, headers=ho).status_code == 404
    bad = client.put(f"/api/v1/brands/{other.id}/care-rules", json={**rules, "topic_repeats": 0}, headers=ho)
    assert bad.status_code == 422
    for n in range(3):
        body = {"brand_id": other.id, "subject": f"帳單 {n}", "customer_id": bob.id, "category": "billing"}
        assert client.post("/api/v1/tickets", json=body, headers=admin).status_code == 201
    db.commit()

    _detect()
    _detect()  # re-running is a no-op
    items = _queue(client, h)
    assert [(i["reason"], i["customer_id"], i["status"]) for i in items] == [("topic_repeat", alice.id, "open")]
    ev = items[0]["evidence"]
    assert ev["topic"] == "billing" and ev["count"] == 3 and len(ev["ticket_ids"]) == 2
    assert ev["conversation_ids"] == [conv.id]
    assert items[0]["customer_name"] == "王小美"  # supervisors hold pii:reveal; agents see the masked name
    masked = _queue(client, make.token(make.agent("agent", [brand])))
    assert [i["id"] for i in masked] == [items[0]["id"]] and masked[0]["customer_name"] not in ("王小美", "")
    assert _queue(client, ho) == []  # the other brand sees nothing, and has nothing of its own
    assert client.get(f"/api/v1/care/{items[0]['id']}", headers=ho).status_code == 404
    body = {"reason": "x"}
    assert client.post(f"/api/v1/care/{items[0]['id']}/dismiss", json=body, headers=ho).status_code == 404


def test_bot_fallbacks_and_a_repeated_question_raise_one_opportunity_per_conversation(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.conversations.service import add_message

    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    lost, repeats, fine = (make.customer(brand) for _ in range(3))
    c1 = _conv(db, brand, lost)
    for text in ("我的點數不見了", "點數到底去哪"):
        add_message(db, c1, sender_type="customer", body=text)
        add_message(db, c1, sender_type="bot", body="抱歉，我不太懂", meta={"fallback": True})
    c2 = _conv(db, brand, repeats)
    for _ in range(2):
        add_message(db, c2, sender_type="customer", body="退款什麼時候到帳？ ")
    c3 = _conv(db, brand, fine)
    add_message(db, c3, sender_type="customer", body="好")
    add_message(db, c3, sender_type="customer", body="好")  # short acknowledgements are not a repeated question
    add_message(db, c3, sender_type="bot", body="抱歉", meta={"fallback": True})  # one fallback only
    db.commit()

    _detect()
    _detect()
    got = {i["customer_id"]: i for i in _queue(client, h)}
    assert set(got) == {lost.id, repeats.id}
    assert got[lost.id]["reason"] == "bot_struggle" and got[lost.id]["evidence"]["fallbacks"] == 2
    assert got[repeats.id]["evidence"] == {"conversation_ids": [c2.id], "repeated": 2}


def test_widget_reports_steps_and_a_visitor_stuck_on_one_is_raised_at_once(client: Any, make: Any, db: Any) -> None:
    from sqlalchemy import select, update

    from kefu.brands.service import create_inbox
    from kefu.care.models import CareFlowEvent

    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    inbox = create_inbox(db, brand, kind="web_chat", name="官網", config={}, actor=None)
    db.commit()

    def visitor() -> dict[str, str]:
        r = client.post("/api/v1/widget/session", json={"inbox_id": inbox.id})
        assert r.status_code == 200, r.text
        return {"X-Kefu-Visitor": r.json()["visitor_token"]}

    assert client.post("/api/v1/widget/flow", json={"path": "/x"}).status_code == 401
    dweller, wanderer = visitor(), visitor()
    step = {"path": "https://shop.example/checkout/pay?email=a@b.tw#card", "step": "付款"}
    assert client.post("/api/v1/widget/flow", json=step, headers=dweller).status_code == 204
    stored = db.scalars(select(CareFlowEvent).where(CareFlowEvent.brand_id == brand.id)).all()
    assert [(e.path, e.step) for e in stored] == [("/checkout/pay", "付款")]  # no query string, no fragment
    assert _queue(client, h) == []
    # Six minutes on the same step (the widget reports every minute): raised by the report itself, no job needed.
    db.execute(update(CareFlowEvent).values(created_at=stored[0].created_at - timedelta(minutes=6)))
    db.commit()
    assert client.post("/api/v1/widget/flow", json=step, headers=dweller).status_code == 204
    items = _queue(client, h)
    assert [(i["reason"], i["evidence"]["path"], i["evidence"]["dwell_minutes"]) for i in items] == [
        ("stuck_flow", "/checkout/pay", 6)
    ]
    assert client.post("/api/v1/widget/flow", json=step, headers=dweller).status_code == 204
    _detect()
    assert len(_queue(client, h)) == 1  # still one for that customer and reason

    # Back and forth between two steps: the third return to one raises it.
    for path in ("/apply/id", "/apply/upload", "/apply/id", "/apply/upload"):
        assert client.post("/api/v1/widget/flow", json={"path": path}, headers=wanderer).status_code == 204
    assert len(_queue(client, h)) == 1
    assert client.post("/api/v1/widget/flow", json={"path": "/apply/id"}, headers=wanderer).status_code == 204
    mine = [i for i in _queue(client, h) if i["evidence"].get("visits")]
    assert [(i["evidence"]["path"], i["evidence"]["visits"]) for i in mine] == [("/apply/id", 3)]

    # Reports older than two days are pruned by the detection job (browsing history is not kept).
    db.execute(update(CareFlowEvent).values(created_at=stored[0].created_at - timedelta(days=3)))
    db.commit()
    _detect()
    assert db.scalars(select(CareFlowEvent).where(CareFlowEvent.brand_id == brand.id)).all() == []

    # Rate-limited per visitor.
    codes = [client.post("/api/v1/widget/flow", json={"path": "/p"}, headers=wanderer).status_code for _ in range(21)]
    assert (
        codes[-1] == 429
        and "Retry-After" in client.post("/api/v1/widget/flow", json={"path": "/p"}, headers=wanderer).headers
    )


def test_a_case_reopened_twice_is_raised_when_it_reopens(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    customer = make.customer(brand)
    body = {"brand_id": brand.id, "subject": "網路一直斷線", "customer_id": customer.id}
    ticket = client.post("/api/v1/tickets", json=body, headers=h).json()
    for n in range(2):
        assert client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "resolved"}, headers=h).is_success
        assert _queue(client, h) == []
        assert client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "open"}, headers=h).is_success
    items = _queue(client, h)
    assert [(i["reason"], i["evidence"]) for i in items] == [("reopened", {"ticket_ids": [ticket["id"]], "reopens": 2})]
    _detect()
    assert len(_queue(client, h)) == 1


def _line_customer(client: Any, make: Any, db: Any, gateway: StubServer) -> tuple[Any, Any, Any, Any]:
    from kefu.brands.service import create_inbox
    from kefu.customers.service import add_identity

    brand = make.brand()
    line = create_inbox(
        db,
        brand,
        kind="line",
        name="LINE",
        config={"channel_access_token": "tok", "api_base": gateway.base_url},
        actor=None,
    )
    customer = make.customer(brand, name="陳小姐", locale="zh-TW")
    add_identity(db, customer, "line", "U1234567890")
    conv = _conv(db, brand, customer, channel="line", inbox_id=line.id)
    db.commit()
    return brand, line, customer, conv


def _opportunity(db: Any, brand: Any, customer: Any, reason: str = "bot_struggle", **evidence: Any) -> int:
    from kefu.care.models import CareReason
    from kefu.care.service import raise_opportunity

    opp = raise_opportunity(db, brand, customer.id, CareReason(reason), dict(evidence))
    assert opp is not None
    db.commit()
    return int(opp.id)


def test_reach_out_is_refused_without_consent_and_otherwise_goes_through_the_outbox_after_commit(
    client: Any, make: Any, db: Any, gateway: StubServer, events: Any
) -> None:
    from sqlalchemy import select

    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.service import add_message
    from kefu.notices.models import CustomerNotice
    from kefu.sla.models import Notification

    brand, _line, customer, conv = _line_customer(client, make, db, gateway)
    agent = make.agent("agent", [brand])
    agent.locale = "en"
    db.commit()
    h = make.token(agent)
    oid = _opportunity(db, brand, customer, conversation_ids=[conv.id])
    alerts = db.scalars(select(Notification).where(Notification.kind == "care.opportunity")).all()
    assert [n.agent_id for n in alerts] == [agent.id] and alerts[0].data["care_id"] == oid  # the live alert
    assert alerts[0].title.startswith("Care opportunity: ") and "_" not in alerts[0].title  # in the agent's locale
    assert alerts[0].data["conversation_id"] == conv.id  # the notification links the conversation

    off = {"tracking": False, "personalization": False, "secondary_use": False, "source": "customer"}
    assert client.put(
        f"/api/v1/customers/{customer.id}/consents", json=off, headers=make.token(make.agent("admin"))
    ).is_success
    r = client.post(f"/api/v1/care/{oid}/reach-out", json={"body": "您好，需要協助嗎？"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "no_consent" and "consent" in r.json()["detail"]
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.brand_id == brand.id)).all() == []
    assert client.get(f"/api/v1/care/{oid}", headers=h).json()["status"] == "open"

    on = {**off, "secondary_use": True}
    assert client.put(
        f"/api/v1/customers/{customer.id}/consents", json=on, headers=make.token(make.agent("admin"))
    ).is_success
    gateway.add("POST", "/v2/bot/message/push", json_body={"sentMessages": [{"id": "m1"}]})
    events.clear()
    r = client.post(f"/api/v1/care/{oid}/reach-out", json={"body": "您好，需要協助嗎？"}, headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "reached_out" and got["conversation_id"] == conv.id and got["decided_by"] == agent.id
    assert "care.decided" in [e.type for e in events]  # published after the request committed
    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.brand_id == brand.id)).all()
    assert [(o.channel, o.recipient) for o in rows] == [("line", "U1234567890")]
    notice = db.scalar(select(CustomerNotice).where(CustomerNotice.dedupe_key == f"care:{oid}"))
    assert notice is not None and notice.kind == "care" and notice.route == "line"
    outbox.deliver_due()
    outbox.deliver_due()
    pushes = [q for q in gateway.requests if q.path == "/v2/bot/message/push"]
    assert len(pushes) == 1 and pushes[0].json()["to"] == "U1234567890"
    again = client.post(f"/api/v1/care/{oid}/reach-out", json={"body": "再問一次"}, headers=h)
    assert again.status_code == 409

    # The customer answers the next day: counted as a reply within 48 hours.
    add_message(db, conv, sender_type="customer", body="謝謝，已經好了")
    db.commit()
    start, end = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    sup = make.token(make.agent("supervisor", [brand]))
    stats = client.get("/api/v1/care/stats", params={"brand_id": brand.id, "start": start, "end": end}, headers=sup)
    assert stats.status_code == 200, stats.text
    s = stats.json()
    assert (s["detected"], s["reached_out"], s["replied_within_48h"], s["reply_rate"]) == (1, 1, 1, 1.0)


def test_dismiss_needs_a_reason_convert_opens_a_case_and_outcomes_are_counted(
    client: Any, make: Any, db: Any, gateway: StubServer
) -> None:
    brand, _line, customer, conv = _line_customer(client, make, db, gateway)
    other = make.customer(brand)
    h = make.token(make.agent("agent", [brand]))
    first = _opportunity(db, brand, customer, "topic_repeat", topic="billing", count=3, conversation_ids=[conv.id])
    second = _opportunity(db, brand, other, "reopened", ticket_ids=[])
    # Raised once each: the same customer and reason again is suppressed.
    from kefu.care.models import CareReason
    from kefu.care.service import raise_opportunity

    assert raise_opportunity(db, brand, customer.id, CareReason.TOPIC_REPEAT, {}) is None

    assert client.post(f"/api/v1/care/{second}/dismiss", json={"reason": ""}, headers=h).status_code == 422
    r = client.post(f"/api/v1/care/{second}/dismiss", json={"reason": "客戶已自行解決"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "dismissed" and r.json()["dismiss_note"] == "客戶已自行解決"
    r = client.post(f"/api/v1/care/{first}/convert", json={"subject": "主動關懷：帳單疑問"}, headers=h)
    assert r.status_code == 200, r.text
    case = client.get(f"/api/v1/tickets/{r.json()['ticket_id']}", headers=h).json()
    assert case["customer_id"] == customer.id and case["subject"] == "主動關懷：帳單疑問" and "care" in case["tags"]
    assert client.post(f"/api/v1/care/{first}/dismiss", json={"reason": "x"}, headers=h).status_code == 409
    assert (
        client.get(
            "/api/v1/care/stats",
            params={"brand_id": brand.id, "start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
            headers=h,
        ).status_code
        == 403
    )
    sup = make.token(make.agent("supervisor", [brand]))
    s = client.get(
        "/api/v1/care/stats",
        params={"brand_id": brand.id, "start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
        headers=sup,
    ).json()
    assert s["detected"] == 2 and s["by_reason"] == {"topic_repeat": 1, "reopened": 1}
    assert (s["open"], s["converted"], s["dismissed"], s["reached_out"], s["action_rate"]) == (0, 1, 1, 0, 0.5)
    admin = make.token(make.agent("admin"))
    entries = client.get("/api/v1/audit", params={"target_type": "care_opportunity", "limit": 200}, headers=admin)
    assert entries.status_code == 200, entries.text
    actions = {(e["action"], e["target_id"]) for e in entries.json()["items"]}
    assert {("care.detected", str(first)), ("care.dismissed", str(second)), ("care.converted", str(first))} <= actions


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_care_queue_page_lists_opportunities_and_acts_with_forms(
    client: Any, make: Any, db: Any, gateway: StubServer
) -> None:
    brand, _line, customer, conv = _line_customer(client, make, db, gateway)
    oid = _opportunity(db, brand, customer, "stuck_flow", path="/checkout/pay", step="付款", dwell_minutes=7,
                       conversation_ids=[conv.id])  # fmt: skip
    elsewhere = make.brand(ticket_prefix="EL")
    other = _opportunity(db, elsewhere, make.customer(elsewhere), "reopened")
    agent = make.agent("agent", [brand])
    h = _login(client, agent)
    page = client.get("/console/care?lang=zh-TW")
    assert page.status_code == 200 and "主動關懷" in page.text and "卡在流程步驟" in page.text
    assert "陳小姐" not in page.text and "頁面：/checkout/pay" in page.text and "停留 7 分鐘" in page.text
    assert f'href="/console/conversations/{conv.id}"' in page.text and f'id="care-{other}"' not in page.text
    assert "看起來您在這個步驟停留了一段時間" in page.text  # the suggestion in the customer's language
    en = client.get("/console/care?lang=en")
    assert "Stuck in a flow step" in en.text and "Proactive care" in en.text
    cn = client.get("/console/care?lang=zh-CN")
    assert "卡在流程步骤" in cn.text

    r = client.post(f"/console/care/{oid}/dismiss?lang=zh-TW", data={"reason": " "}, headers=h)
    assert r.status_code == 422 and 'role="alert"' in r.text and "請填寫略過原因" in r.text
    r = client.post(f"/console/care/{oid}/reach-out?lang=zh-TW", data={"body": "您好，需要協助嗎？"}, headers=h)
    assert r.status_code == 200 and "已主動聯繫" in r.text
    assert client.post(f"/console/care/{other}/dismiss", data={"reason": "x"}, headers=h).status_code == 404
