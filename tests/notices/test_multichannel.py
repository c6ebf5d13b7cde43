"""Notices on several channels (#17): own channel plus SMS and email per brand policy, once each, consent-respecting,
with a delivery state per recipient; outage notices to the customers an incident affects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kefu.conversations.commands import CreateConversation
from tests.channels.servers import upstream  # noqa: F401  (fixture: a real SMTP relay capturing mail)
from tests.channels.stub_http import StubServer
from tests.tickets.helpers import Clock, tw


@pytest.fixture
def gateway() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _brand_with_channels(db: Any, make: Any, gateway: StubServer, smtp_port: int) -> tuple[Any, Any]:
    from kefu.brands.service import create_inbox

    brand = make.brand(timezone="Asia/Taipei")
    line = create_inbox(
        db,
        brand,
        kind="line",
        name="LINE",
        config={"channel_access_token": "tok", "api_base": gateway.base_url},
        actor=None,
    )
    create_inbox(
        db,
        brand,
        kind="phone",
        name="客服專線",
        config={"sms_url": f"{gateway.base_url}/sms/send", "sms_token": "sk-test"},
        actor=None,
    )
    mail = {
        "address": "support@shop.example",
        "from_name": "客服中心",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
    }
    create_inbox(db, brand, kind="email", name="客服信箱", config=mail, actor=None)
    return brand, line


def _line_case(db: Any, make: Any, brand: Any, line: Any, user: str, **customer: Any) -> Any:
    from kefu.conversations.service import create_conversation
    from kefu.customers.service import add_identity
    from kefu.tickets.service import create_ticket

    c = make.customer(brand, locale="zh-TW", **customer)
    add_identity(db, c, "line", user)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=c.id, channel="line", inbox_id=line.id), actor=None
    )
    ticket = create_ticket(db, brand_id=brand.id, subject="訂單未出貨", actor=None, customer_id=c.id)
    conv.ticket_id = ticket.id
    return c, ticket


def test_a_status_notice_goes_on_line_sms_and_email_once_each_and_consent_limits_the_extra_channels(
    client: Any,
    make: Any,
    db: Any,
    clock: Clock,
    gateway: StubServer,
    upstream: Any,  # noqa: F811
) -> None:
    from kefu.channels import outbox

    captured, smtp_port = upstream
    brand, line = _brand_with_channels(db, make, gateway, smtp_port)
    h = make.token(make.agent("admin"))
    _c1, t1 = _line_case(
        db, make, brand, line, "U1111111111", name="陳小姐", phone="0912345678", email="chen@example.com"
    )
    c2, t2 = _line_case(
        db, make, brand, line, "U2222222222", name="林先生", phone="0987654321", email="lin@example.com"
    )
    db.commit()
    # The policy is per brand and notice type, validated.
    bad = {"settings": {"notices": {"also": {"status": ["fax"]}}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    bad = {"settings": {"notices": {"also": {"newsletter": ["sms"]}}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    policy = {"settings": {"notices": {"status": ["resolved", "pending"], "also": {"status": ["sms", "email"]}}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=policy, headers=h).status_code == 200
    # 林先生 withdrew consent: he still hears about his own case on his own channel, nowhere else.
    every = {"tracking": False, "personalization": False, "secondary_use": False, "source": "customer"}
    assert client.put(f"/api/v1/customers/{c2.id}/consents", json=every, headers=h).status_code == 200

    for _ in range(2):
        gateway.add("POST", "/v2/bot/message/push", json_body={"sentMessages": [{"id": "m"}]})
    gateway.add("POST", "/sms/send", json_body={"id": "sms-1"})
    clock.advance(minutes=10)
    for t in (t1, t2):
        assert client.patch(f"/api/v1/tickets/{t.id}", json={"status": "pending"}, headers=h).status_code == 200
        # Saying it twice (a no-op change) sends nothing more.
        assert client.patch(f"/api/v1/tickets/{t.id}", json={"status": "pending"}, headers=h).is_success

    got = client.get(f"/api/v1/tickets/{t1.id}/notices", headers=make.token(make.agent("agent", [brand]))).json()
    # One row per channel; the outbox sends each after the request commits (its state follows: queued → sent).
    assert [(n["route"], n["status"]) for n in got] == [("line", "queued"), ("sms", "queued"), ("email", "queued")]
    assert got[1]["recipient"] != "0912345678" and got[1]["recipient"].endswith("678")  # masked for agents
    other = client.get(f"/api/v1/tickets/{t2.id}/notices", headers=h).json()
    assert [(n["route"], n["status"]) for n in other] == [("line", "queued"), ("sms", "skipped"), ("email", "skipped")]
    assert "consent" in other[1]["reason"]

    outbox.deliver_due()
    outbox.deliver_due()  # nothing twice
    pushes = [q.json()["to"] for q in gateway.requests if q.path == "/v2/bot/message/push"]
    assert sorted(pushes) == ["U1111111111", "U2222222222"]
    sms = [q.json() for q in gateway.requests if q.path == "/sms/send"]
    assert [s["to"] for s in sms] == ["0912345678"] and t1.number in sms[0]["text"]
    mails = captured.wait(1)
    assert len(mails) == 1 and captured.messages[0][1] == ["chen@example.com"]
    assert t1.number in str(mails[0]["Subject"]) and "需要您補充資料" in mails[0].get_body().get_content()
    got = client.get(f"/api/v1/tickets/{t1.id}/notices", headers=h).json()
    assert [n["state"] for n in got] == ["sent", "sent", "sent"]


def test_outage_notice_reaches_affected_customers_on_their_channel_plus_sms_with_per_recipient_state(
    client: Any,
    make: Any,
    db: Any,
    clock: Clock,
    gateway: StubServer,
    upstream: Any,  # noqa: F811
) -> None:
    from kefu.channels import outbox
    from kefu.tickets.service import create_ticket

    _, smtp_port = upstream
    brand, line = _brand_with_channels(db, make, gateway, smtp_port)
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    clock.set(tw(2026, 3, 2, 9, 0))
    a, ta = _line_case(db, make, brand, line, "U3333333333", name="王先生", phone="0911222333")
    b, tb = _line_case(db, make, brand, line, "U4444444444", name="張小姐")  # no phone number
    c, tc = _line_case(db, make, brand, line, "U5555555555", name="李先生", phone="0922333444")
    for t in (ta, tb, tc):
        t.category = "payment"
    ta.tags = ["gateway-x"]
    # A later case of 王先生 in the same incident: still one notice per channel for him.
    again = create_ticket(db, brand_id=brand.id, subject="又扣款失敗", actor=None, customer_id=a.id)
    again.category = "payment"
    clock.set(tw(2026, 3, 5, 9, 0))
    late, tl = _line_case(db, make, brand, line, "U6666666666", name="周小姐", phone="0933444555")
    tl.category = "payment"  # opened after the window
    db.commit()
    every = {"tracking": False, "personalization": False, "secondary_use": False, "source": "customer"}
    assert client.put(f"/api/v1/customers/{c.id}/consents", json=every, headers=sup).status_code == 200

    window = {"brand_id": brand.id, "category": "payment", "since": "2026-03-01T00:00:00+08:00",
              "until": "2026-03-03T00:00:00+08:00"}  # fmt: skip
    assert client.post("/api/v1/notices/outages/preview", json=window, headers=agent).status_code == 403
    r = client.post("/api/v1/notices/outages/preview", json={"brand_id": brand.id}, headers=sup)
    assert r.status_code == 422  # an audience needs a criterion: never "everyone" by accident
    r = client.post("/api/v1/notices/outages/preview", json=window, headers=sup)
    assert r.status_code == 200 and r.json()["recipients"] == 3, r.text
    tagged = client.post("/api/v1/notices/outages/preview", json={**window, "tag": "gateway-x"}, headers=sup)
    assert tagged.json()["recipients"] == 1

    body = {**window, "title": "金流服務異常", "body": "信用卡付款暫時失敗，恢復後會再通知您。", "channels": ["sms"]}
    for _ in range(2):
        gateway.add("POST", "/v2/bot/message/push", json_body={"sentMessages": [{"id": "m"}]})
    gateway.add("POST", "/sms/send", json_body={"id": "sms-9"})
    r = client.post("/api/v1/notices/outages", json=body, headers=sup)
    assert r.status_code == 201, r.text
    out = r.json()
    rows = {(d["customer_id"], d["route"]): (d["state"], d["reason"]) for d in out["deliveries"]}
    assert len(rows) == 5, out["deliveries"]
    assert {rows[(a.id, "line")][0], rows[(a.id, "sms")][0], rows[(b.id, "line")][0]} == {"queued"}
    assert rows[(b.id, "sms")] == ("skipped", "no phone number")
    assert rows[(c.id, "none")] == ("skipped", "no consent to be contacted")  # withdrew: nothing at all
    assert late.id not in {d["customer_id"] for d in out["deliveries"]}
    assert out["recipients"] == 3 and out["states"] == {"queued": 3, "skipped": 2}

    outbox.deliver_due()
    detail = client.get(f"/api/v1/notices/outages/{out['id']}", headers=agent).json()
    assert detail["states"] == {"sent": 3, "skipped": 2}
    pushes = sorted(q.json()["to"] for q in gateway.requests if q.path == "/v2/bot/message/push")
    assert pushes == ["U3333333333", "U4444444444"]
    assert [q.json()["to"] for q in gateway.requests if q.path == "/sms/send"] == ["0911222333"]
    listed = client.get("/api/v1/notices/outages", params={"brand_id": brand.id}, headers=agent).json()
    assert [(x["id"], x["states"]) for x in listed] == [(out["id"], {"sent": 3, "skipped": 2})]
    # The affected case's timeline shows the notice; another brand's staff see nothing.
    other = make.token(make.agent("supervisor", [make.brand()]))
    assert client.get(f"/api/v1/notices/outages/{out['id']}", headers=other).status_code == 404
