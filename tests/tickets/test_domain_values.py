"""Closed sets (status, priority, channel, sender type, inbox kind): enums, 422 at every entry, CHECK in SQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kefu.conversations.commands import CreateConversation


def _ticket(db: Any, make: Any, **kw: Any) -> Any:
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    t = create_ticket(db, brand_id=brand.id, subject="退款", actor=None, **kw)
    db.commit()
    return t


def test_service_validates_every_path_into_enums(db: Any, make: Any) -> None:
    from kefu.core.enums import ChannelKind
    from kefu.core.errors import InvalidInput
    from kefu.tickets.commands import ChangeTicketStatus, build
    from kefu.tickets.models import Ticket, TicketPriority, TicketStatus
    from kefu.tickets.service import change_ticket_status, create_ticket, update_ticket

    t = _ticket(db, make, channel="line")
    db.expire_all()
    t = db.get(Ticket, t.id)
    assert t.status is TicketStatus.NEW and t.priority is TicketPriority.NORMAL and t.channel is ChannelKind.LINE
    assert t.status == "new"  # members compare equal to their stored strings
    with pytest.raises(InvalidInput, match="priority"):
        update_ticket(db, t, None, {"priority": "whatever-i-like"})
    with pytest.raises(InvalidInput, match="status"):
        update_ticket(db, t, None, {"status": "done"})
    with pytest.raises(InvalidInput, match="prioritty: Extra inputs"):
        update_ticket(db, t, None, {"prioritty": "high"})  # a typo is refused, not ignored
    with pytest.raises(InvalidInput, match="channel"):
        create_ticket(db, brand_id=t.brand_id, subject="x", actor=None, channel="pigeon")
    with pytest.raises(InvalidInput, match="ticket priority"):
        t.priority = "whatever"  # a direct attribute write is validated too
    with pytest.raises(InvalidInput):
        build(ChangeTicketStatus, {"status": "open", "priority": "p0"})
    change_ticket_status(db, t, None, build(ChangeTicketStatus, {"status": "pending", "priority": "high"}))
    db.commit()
    assert (t.status, t.priority) == (TicketStatus.PENDING, TicketPriority.HIGH)


def test_api_and_console_form_refuse_unknown_values(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import create_conversation
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    agent = make.agent("admin", [brand])
    headers = make.token(agent)
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "priority": "p0"}, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "channel": "fax"}, headers=headers)
    assert r.status_code == 422
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "channel": "email"}, headers=headers)
    assert r.status_code == 201 and r.json()["channel"] == "email" and r.json()["priority"] == "normal"
    tid = r.json()["id"]
    assert client.patch(f"/api/v1/tickets/{tid}", json={"priority": "whatever"}, headers=headers).status_code == 422
    spec = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(spec["TicketPriority"]["enum"]) == {"low", "normal", "high", "urgent"}

    customer = make.customer(brand, name="王小明")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="line"), actor=None
    )
    ticket = create_ticket(db, brand_id=brand.id, subject="t", actor=None, conversation_id=conv.id)
    db.commit()
    login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    csrf = login.json()["csrf_token"]
    form = {"status": "open", "priority": "whatever-i-like", "conversation_id": str(conv.id), "csrf_token": csrf}
    page = client.post(f"/console/tickets/{ticket.id}", data=form, headers={"X-CSRF-Token": csrf})
    assert page.status_code == 200 and "whatever-i-like" in page.text  # the side panel shows the error
    db.expire_all()
    assert ticket.priority == "normal"
    form["priority"] = "urgent"
    assert client.post(f"/console/tickets/{ticket.id}", data=form, headers={"X-CSRF-Token": csrf}).status_code == 200
    db.expire_all()
    assert (ticket.status, ticket.priority) == ("open", "urgent")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("tickets", "status"),
        ("tickets", "priority"),
        ("tickets", "channel"),
        ("conversations", "status"),
        ("conversations", "channel"),
        ("messages", "sender_type"),
        ("inboxes", "kind"),
    ],
)
def test_database_check_constraints(db: Any, make: Any, table: str, column: str) -> None:
    from kefu.brands.models import Brand
    from kefu.brands.service import create_inbox
    from kefu.conversations.service import add_message, create_conversation

    t = _ticket(db, make)
    brand = db.get(Brand, t.brand_id)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=make.customer(brand).id, channel="line"), actor=None
    )
    add_message(db, conv, sender_type="customer", body="hi")
    create_inbox(db, brand, kind="email", name="support", config={}, actor=None)
    db.commit()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))
