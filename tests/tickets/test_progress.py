"""Public progress query: contact verification, no data leak, rate limits, customer-safe view, confirmation."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import Clock, admin_principal

URL = "/api/v1/public/tickets/progress"


def _ticket(db: Any, make: Any) -> Any:
    from kefu.tickets.service import add_comment, create_ticket

    brand = make.brand(ticket_prefix="PQ")
    p = admin_principal(make.agent("admin"))
    cust = make.customer(brand, name="張雅婷", email="Amy.Chang@example.com", phone="0912-345-678")
    t = create_ticket(
        db, brand_id=brand.id, subject="付款失敗", actor=p, customer_id=cust.id, category="payment_failure"
    )
    add_comment(db, t, p, "內部：疑似重複扣款", public=False)
    add_comment(db, t, p, "已聯繫銀行，預計 3 天內退回", public=True)
    add_comment(db, t, p, "內部：等財務回覆", public=False)
    db.commit()
    return t


def test_progress_query_matches_email_or_phone_and_hides_internals(
    client: Any, db: Any, make: Any, clock: Clock
) -> None:
    t = _ticket(db, make)
    for contact in ("amy.chang@example.com", "+886 912 345 678", "0912345678"):
        r = client.post(URL, json={"number": t.number.lower(), "contact": contact})
        assert r.status_code == 200, contact
    body = r.json()
    assert body["status"] == "new" and body["status_label"]["en"] == "Received"
    assert body["last_update"]["body"] == "已聯繫銀行，預計 3 天內退回"
    assert body["category_label"] == {"zh": "支付失敗", "en": "Payment failure"}
    text = r.text
    assert "內部" not in text and "assignee" not in text and "team" not in text


def test_progress_query_failures_look_alike_and_are_rate_limited(client: Any, db: Any, make: Any, clock: Clock) -> None:
    t = _ticket(db, make)
    wrong = client.post(URL, json={"number": t.number, "contact": "someone@example.com"})
    unknown = client.post(URL, json={"number": "PQ-999999", "contact": "amy.chang@example.com"})
    short_phone = client.post(URL, json={"number": t.number, "contact": "678"})
    assert wrong.status_code == unknown.status_code == short_phone.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"].startswith("application/problem+json")
    for _ in range(3):  # with the two above: five failures for this number
        client.post(URL, json={"number": t.number, "contact": "x@example.com"})
    # Five failures for this number: even the right contact now gets 429 (no guessing).
    limited = client.post(URL, json={"number": t.number, "contact": "amy.chang@example.com"})
    assert limited.status_code == 429
    clock.advance(minutes=16)
    assert client.post(URL, json={"number": t.number, "contact": "amy.chang@example.com"}).status_code == 200


def test_per_ip_limit_and_bot_service(db: Any, make: Any, clock: Clock) -> None:
    import pytest

    from kefu.core.errors import NotFound, TooManyRequests
    from kefu.tickets.progress import customer_progress

    t = _ticket(db, make)
    for i in range(10):
        with pytest.raises(NotFound):
            customer_progress(db, f"PQ-{900000 + i}", "a@b.co", ip="10.0.0.9")
    with pytest.raises(TooManyRequests):
        customer_progress(db, t.number, "amy.chang@example.com", ip="10.0.0.9")
    view = customer_progress(db, t.number, "AMY.CHANG@example.com", ip="10.0.0.10")
    assert view["number"] == t.number and view["can_confirm"] is False


def test_customer_confirms_resolution_and_merged_tickets_point_to_survivor(
    client: Any, db: Any, make: Any, clock: Clock
) -> None:
    from kefu.tickets.service import create_ticket, merge_tickets, update_ticket

    t = _ticket(db, make)
    p = admin_principal(make.agent("admin"))
    not_yet = client.post("/api/v1/public/tickets/confirm", json={"number": t.number, "contact": "0912345678"})
    assert not_yet.status_code == 409
    update_ticket(db, t, p, {"status": "resolved"})
    db.commit()
    r = client.post("/api/v1/public/tickets/confirm", json={"number": t.number, "contact": "0912345678"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    survivor = create_ticket(db, brand_id=t.brand_id, subject="同一件事", actor=p, customer_id=t.customer_id)
    dup = create_ticket(db, brand_id=t.brand_id, subject="重複", actor=p, customer_id=t.customer_id)
    merge_tickets(db, survivor, [dup], p)
    db.commit()
    view = client.post(URL, json={"number": dup.number, "contact": "amy.chang@example.com"}).json()
    assert view["merged_into"] == survivor.number and view["subject"] == "同一件事"


def test_ipv6_addresses_of_one_network_share_a_budget(db: Any, make: Any, clock: Clock) -> None:
    """One IPv6 /64 (what one subscriber gets) is one client: rotating its 2^64 addresses buys no more guesses."""
    import pytest

    from kefu.core.errors import NotFound, TooManyRequests
    from kefu.tickets.progress import customer_progress

    t = _ticket(db, make)
    for i in range(5):
        with pytest.raises(NotFound):
            customer_progress(db, t.number, f"guess{i}@example.com", ip=f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(TooManyRequests):
        customer_progress(db, t.number, "amy.chang@example.com", ip="2001:db8:1:2:ffff::9")
    view = customer_progress(db, t.number, "amy.chang@example.com", ip="2001:db8:1:3::1")  # another network
    assert view["number"] == t.number
