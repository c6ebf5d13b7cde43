"""Proactive notices (#17): LINE push on the case's conversation, SMS through a gateway, portal otherwise; once each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kefu.conversations.commands import CreateConversation
from tests.channels.stub_http import StubServer
from tests.tickets.helpers import Clock, tw


@pytest.fixture
def gateway() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def test_status_change_reaches_the_customer_on_line_exactly_once(
    client: Any, make: Any, db: Any, clock: Clock, gateway: StubServer
) -> None:
    from sqlalchemy import select

    from kefu.brands.service import create_inbox
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.service import create_conversation
    from kefu.customers.service import add_identity
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    admin = make.agent("admin")
    h = make.token(admin)
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
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="line", inbox_id=line.id), actor=None
    )
    ticket = create_ticket(db, brand_id=brand.id, subject="訂單未出貨", actor=None, customer_id=customer.id)
    conv.ticket_id = ticket.id
    db.commit()
    gateway.add("POST", "/v2/bot/message/push", json_body={"sentMessages": [{"id": "m1"}]})

    clock.advance(minutes=10)
    r = client.patch(f"/api/v1/tickets/{ticket.id}", json={"status": "pending"}, headers=h)
    assert r.status_code == 200, r.text
    assert client.patch(f"/api/v1/tickets/{ticket.id}", json={"status": "pending"}, headers=h).is_success  # no change
    notices = client.get(f"/api/v1/tickets/{ticket.id}/notices", headers=h).json()
    assert [(n["kind"], n["route"], n["status"]) for n in notices] == [("status", "line", "queued")]
    assert "需要您補充資料" in notices[0]["body"] and ticket.number in notices[0]["body"]

    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.brand_id == brand.id)).all()
    assert [(o.channel, o.recipient) for o in rows] == [("line", "U1234567890")]
    outbox.deliver_due()
    outbox.deliver_due()  # sent rows are not sent again
    pushes = [q for q in gateway.requests if q.path == "/v2/bot/message/push"]
    assert len(pushes) == 1 and pushes[0].json()["to"] == "U1234567890"
    assert "X-Line-Retry-Key".lower() in pushes[0].headers

    # The customer was just given a public update: resolving in the same minute does not send a second message.
    clock.advance(minutes=10)
    upd = {"body": "已補寄，單號 123", "public": True}
    assert client.post(f"/api/v1/tickets/{ticket.id}/activities", json=upd, headers=h).status_code == 201
    assert client.patch(f"/api/v1/tickets/{ticket.id}", json={"status": "resolved"}, headers=h).is_success
    assert len(client.get(f"/api/v1/tickets/{ticket.id}/notices", headers=h).json()) == 1


def test_callback_reminder_goes_by_sms_gateway_and_cases_without_a_channel_get_a_portal_update(
    client: Any, make: Any, db: Any, clock: Clock, gateway: StubServer
) -> None:
    from sqlalchemy import select

    from kefu.brands.service import create_inbox
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.core.jobs import run_job
    from kefu.notices.models import CustomerNotice
    from kefu.registry import load_jobs

    load_jobs()
    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    h = make.token(admin)
    create_inbox(
        db,
        brand,
        kind="phone",
        name="客服專線",
        config={"sms_url": f"{gateway.base_url}/sms/send", "sms_token": "sk-test", "sms_sender": "KEFU"},
        actor=None,
    )
    db.commit()
    gateway.add("POST", "/sms/send", status=503)  # the gateway hiccups once: retried by the outbox
    gateway.add("POST", "/sms/send", json_body={"id": "sms-1"})
    clock.set(tw(2026, 3, 9, 9, 0))
    slots = client.get(f"/api/v1/public/brands/{brand.slug}/callback-slots").json()["slots"]
    slot = next(s for s in slots if s["local"] == "2026-03-09 14:00")
    booked = client.post(
        f"/api/v1/public/brands/{brand.slug}/callbacks",
        json={"scheduled_at": slot["start"], "phone": "0912345678", "name": "林先生", "source": "widget"},
    )
    assert booked.status_code == 201, booked.text

    clock.set(tw(2026, 3, 9, 12, 30))
    run_job("notices.sweep", {})
    assert db.scalars(select(CustomerNotice).where(CustomerNotice.brand_id == brand.id)).all() == []
    clock.set(tw(2026, 3, 9, 13, 1))  # an hour ahead
    run_job("notices.sweep", {})
    run_job("notices.sweep", {})  # once per call-back
    db.expire_all()
    notices = db.scalars(select(CustomerNotice).where(CustomerNotice.brand_id == brand.id)).all()
    assert [(n.kind, n.route) for n in notices] == [("callback_reminder", "sms")]
    body = notices[0].body  # the time as Taiwan writes it (CLDR zh-Hant-TW), in the brand's zone
    assert "3月9日" in body and "下午2:00" in body and "台灣時間" in body and "0912345678" not in body

    row = db.get(OutboxMessage, notices[0].outbox_id)
    assert row is not None and row.channel == "sms" and row.recipient == "0912345678"
    # The send job ran after the sweep committed: the gateway's 503 left the row for a retry with backoff.
    assert (row.status, row.attempts) == ("pending", 1) and "503" in (row.last_error or "")
    row.next_attempt_at = row.created_at  # the backoff has passed
    db.commit()
    assert outbox.deliver(row.id) == "sent"
    assert outbox.deliver(row.id) is None  # sent once
    sends = [q for q in gateway.requests if q.path == "/sms/send"]
    assert len(sends) == 2 and sends[0].json()["id"] == sends[1].json()["id"]  # the same Idempotency-Key
    assert sends[1].headers["authorization"] == "Bearer sk-test" and sends[1].json()["to"] == "0912345678"
    assert sends[1].headers["idempotency-key"] == row.idempotency_key

    # A case with no conversation and no phone number: the notice is a public update in the portal view.
    t = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "發票寄錯"}, headers=h).json()
    clock.advance(minutes=5)
    assert client.patch(f"/api/v1/tickets/{t['id']}", json={"status": "resolved"}, headers=h).is_success
    got = client.get(f"/api/v1/tickets/{t['id']}/notices", headers=h).json()
    assert [(n["route"], n["status"]) for n in got] == [("portal", "posted")]

    # Which status changes notify is a validated brand setting.
    bad = {"settings": {"notices": {"status": ["closed"]}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    only = {"settings": {"notices": {"status": ["resolved"]}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=only, headers=h).is_success
    t2 = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "發票抬頭"}, headers=h).json()
    clock.advance(minutes=5)
    assert client.patch(f"/api/v1/tickets/{t2['id']}", json={"status": "pending"}, headers=h).is_success
    assert client.get(f"/api/v1/tickets/{t2['id']}/notices", headers=h).json() == []


def test_a_notice_delivery_failure_has_the_code_the_outage_page_names() -> None:
    from kefu.notices.broadcasts import Delivery

    coded = Delivery(None, "failed", "[no_smtp_host] PermanentSendError: email inbox has no smtp_host", None, None)  # type: ignore[arg-type]
    assert coded.code == "no_smtp_host" and coded.detail == "PermanentSendError: email inbox has no smtp_host"
    plain = Delivery(None, "failed", "SMS gateway answered 500", None, None)  # type: ignore[arg-type]
    assert plain.code is None and plain.detail == "SMS gateway answered 500"
