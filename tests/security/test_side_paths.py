"""Side paths of the customer-facing surfaces: what one customer's lookup may show of another customer's data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select

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


def test_identity_claim_link_changes_nothing_until_its_owner_confirms(client: Any, db: Any, make: Any) -> None:
    """A mail scanner or preview fetching the link (GET) must not merge a stranger's chat into the customer."""
    from kefu.customers.claims import record_claim

    brand = make.brand()
    victim = make.customer(brand, name="Victim", email="victim@example.com")
    stranger = make.customer(brand, name="Visitor")
    token = record_claim(db, stranger, "email", "victim@example.com")
    db.commit()
    for lang in ("zh-TW", "zh-CN", "en"):
        page = client.get("/api/v1/widget/verify", params={"token": token, "lang": lang})
        assert page.status_code == 200 and 'method="post"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id is None
    cross = client.post("/api/v1/widget/verify", data={"token": token}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id is None
    ok = client.post("/api/v1/widget/verify", data={"token": token})
    assert ok.status_code == 200, ok.text
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id == victim.id


_HUGE_FIELD = b'id,locale,category,question,answer\n1,zh-TW,c,"' + b"x" * 200_000 + b'",y\n'  # csv.Error


@pytest.mark.parametrize(("body", "fmt"), [(b"[" * 100_000, "json"), (_HUGE_FIELD, "csv")])
def test_unreadable_import_files_are_invalid_input(body: bytes, fmt: str) -> None:
    """Deep JSON (RecursionError) and oversized CSV fields (csv.Error) in an uploaded file are bad input."""
    from kefu.core.errors import InvalidInput
    from kefu.knowledge import bulk

    with pytest.raises(InvalidInput):
        bulk.read_records(body, fmt)


def test_hostile_import_file_is_a_422_not_a_500(client: Any, make: Any) -> None:
    """Files an editor uploads are untrusted input too: unreadable ones are refused as such."""
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    r = client.post(
        "/api/v1/kb/import",
        params={"brand_id": brand.id},
        content=_HUGE_FIELD,
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_leave_message_with_someone_elses_email_never_makes_the_visitor_that_customer(
    client: Any, db: Any, make: Any
) -> None:
    """The widget's leave-a-message form is a side door to the pre-chat form: the typed contact is only a claim."""
    from kefu.brands.service import create_inbox
    from kefu.conversations.models import Conversation
    from kefu.customers.claims import verified_owner
    from kefu.customers.models import CustomerIdentity
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    inbox = create_inbox(db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    victim = make.customer(brand, name="Victim", email="victim@example.com")
    create_ticket(db, brand_id=brand.id, subject="Victim 的訂單", actor=None, customer_id=victim.id)
    db.commit()
    token = client.post("/api/v1/widget/session", json={"inbox_id": inbox.id}).json()["visitor_token"]
    # A visitor without a customer record of their own yet (e.g. theirs was erased while the token lived on).
    db.execute(delete(CustomerIdentity).where(CustomerIdentity.kind == "web"))
    db.commit()
    h = {"x-kefu-visitor": token}
    left = client.post(
        "/api/v1/widget/leave-message",
        json={"name": "Mallory", "contact": "victim@example.com", "message": "請回電"},
        headers=h,
    )
    assert left.status_code == 201, left.text
    chat = client.post("/api/v1/widget/messages", json={"body": "我的訂單呢？", "client_id": "c1"}, headers=h)
    assert chat.status_code == 201, chat.text
    db.expire_all()
    conv = db.get(Conversation, chat.json()["conversation_id"])
    assert conv.customer_id != victim.id
    assert not verified_owner(db, conv, victim.id)
    web = db.scalars(select(CustomerIdentity).where(CustomerIdentity.kind == "web")).all()
    assert all(i.customer_id != victim.id for i in web)


# Who may bind an identity to a customer or merge two customers: agents (customers API and service, the workspace)
# and a proven claim (kefu.customers.claims). Customer-facing code never does it on a typed contact.
IDENTITY_BINDERS = {
    "kefu/customers/service.py",
    "kefu/customers/api.py",
    "kefu/customers/claims.py",
    "kefu/workspace/pages.py",
    "kefu/demo/__init__.py",
}


def test_identities_are_bound_only_by_agents_or_a_proven_claim() -> None:
    """A new customer-facing path calling add_identity / merge_customers fails here (go through claims instead)."""
    import re
    from pathlib import Path

    src = Path(__file__).parents[2] / "src"
    callers = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if re.search(r"\b(add_identity|merge_customers)\(", p.read_text(encoding="utf-8"))
    }
    assert callers <= IDENTITY_BINDERS, f"identity bound outside agents/claims: {sorted(callers - IDENTITY_BINDERS)}"
    assert callers >= {"kefu/customers/claims.py", "kefu/customers/api.py"}
