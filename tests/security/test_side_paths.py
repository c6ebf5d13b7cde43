"""Side paths of the customer-facing surfaces: what one customer's lookup may show of another customer's data."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import admin_principal

PROGRESS = "/api/v1/public/tickets/progress"


def test_progress_of_a_ticket_merged_into_another_customers_ticket_shows_none_of_it(
    client: Any, db: Any, make: Any
) -> None:
    """A duplicate merged into a stranger's ticket: its customer sees their own ticket closed, nothing of the other."""
    from kefu.tickets.service import add_comment, create_ticket, merge_tickets

    brand = make.brand(ticket_prefix="MG")
    p = admin_principal(make.agent("admin"))
    amy = make.customer(brand, name="Amy", email="amy@example.com")
    bob = make.customer(brand, name="Bob", email="bob@example.com")
    bobs = create_ticket(db, brand_id=brand.id, subject="Bob 的退款 0912345678", actor=p, customer_id=bob.id)
    add_comment(db, bobs, p, "Bob：已退款到帳號 812-1234567", public=True)
    amys = create_ticket(db, brand_id=brand.id, subject="Amy 的問題", actor=p, customer_id=amy.id)
    merge_tickets(db, bobs, [amys], p)
    db.commit()
    r = client.post(PROGRESS, json={"number": amys.number, "contact": "amy@example.com"})
    assert r.status_code == 200, r.text
    body = r.json()
    # The merge note names the survivor's number (useless without Bob's contact); nothing of Bob's ticket shows.
    assert "Bob" not in r.text and "0912345678" not in r.text and "812-1234567" not in r.text, body
    assert body["number"] == amys.number and body["status"] == "closed" and body["merged_into"] is None
