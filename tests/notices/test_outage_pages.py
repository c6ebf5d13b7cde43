"""The operator's outage notice screen over HTTP: pick affected customers by category / tag / time window in the
brand's timezone, preview the count, send, and follow every delivery's state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.channels.stub_http import StubServer
from tests.tickets.helpers import Clock, tw


@pytest.fixture
def gateway() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_operator_previews_and_sends_an_outage_notice_and_sees_each_delivery(
    client: Any, make: Any, db: Any, clock: Clock, gateway: StubServer
) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels import outbox
    from kefu.tickets.service import create_ticket

    brand = make.brand(timezone="Asia/Taipei")
    sms = {"sms_url": f"{gateway.base_url}/sms/send", "sms_token": "sk"}
    create_inbox(db, brand, kind="phone", name="客服專線", config=sms, actor=None)
    clock.set(tw(2026, 3, 2, 23, 30))  # late Monday evening, Taipei (15:30 UTC)
    hit = make.customer(brand, name="吳先生", phone="0911000111")
    miss = make.customer(brand, name="鄭小姐", phone="0911000222")
    t1 = create_ticket(db, brand_id=brand.id, subject="付款失敗", actor=None, customer_id=hit.id)
    t1.tags = ["pay-outage"]
    clock.set(tw(2026, 3, 3, 1, 0))  # after local midnight: outside a window that ends on Monday
    t2 = create_ticket(db, brand_id=brand.id, subject="付款失敗", actor=None, customer_id=miss.id)
    t2.tags = ["pay-outage"]
    sup = make.agent("supervisor", [brand])
    db.commit()
    h = _login(client, sup)
    page = client.get("/console/notices?lang=zh-TW")
    assert page.status_code == 200 and "新的異常通知" in page.text and 'name="channels" value="sms"' in page.text

    form = {"brand_id": str(brand.id), "tag": "pay-outage", "since": "2026-03-02T00:00", "until": "2026-03-03T00:00"}
    r = client.post("/console/notices/preview?lang=zh-TW", data=form, headers=h)
    assert r.status_code == 200 and "將通知 1 位客戶" in r.text and t1.number in r.text
    r = client.post("/console/notices/preview?lang=zh-TW", data={"brand_id": str(brand.id)}, headers=h)
    assert r.status_code == 422  # no criterion
    gateway.add("POST", "/sms/send", json_body={"id": "s1"})
    sent = {**form, "title": "付款服務暫停", "body": "信用卡付款暫時失敗，恢復後再通知。", "channels": "sms"}
    r = client.post("/console/notices/outages", data=sent, headers=h)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/console/notices/")
    outbox.deliver_due()
    detail = client.get(f"{r.headers['HX-Redirect']}?lang=zh-TW")
    assert detail.status_code == 200 and "付款服務暫停" in detail.text
    states = re.findall(r'<span class="badge notice-state st-(\w+)">', detail.text)
    assert states == ["sent", "sent"]  # the summary and the one delivery (SMS, the phone case's own channel)
    assert t1.number in detail.text and t2.number not in detail.text and "0911000111" in detail.text
    assert [q.json()["to"] for q in gateway.requests if q.path == "/sms/send"] == ["0911000111"]
    listing = client.get("/console/notices?lang=en")
    assert "付款服務暫停" in listing.text and "Sent 1" in listing.text
    # Agents follow deliveries with personal data masked, and cannot send.
    client.post("/api/v1/auth/logout", headers=h)
    ha = _login(client, make.agent("agent", [brand]))
    masked = client.get(r.headers["HX-Redirect"])
    assert masked.status_code == 200 and "0911000111" not in masked.text and "吳先生" not in masked.text
    assert client.post("/console/notices/outages", data=sent, headers=ha).status_code == 403
