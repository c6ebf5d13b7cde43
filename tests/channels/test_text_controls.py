"""One rule for control characters on both databases: NUL and other C0 controls are dropped, through HTTP and a
channel webhook alike (PostgreSQL used to answer 422 where SQLite stored them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.channels.conftest import line_body, line_sign, line_text


def test_nul_and_controls_are_dropped_through_http(client: Any, db: Any, make: Any) -> None:
    """A ticket subject and a customer with NUL, ESC and a jsonb NUL escape: stored clean, 201 on both databases."""
    brand = make.brand()
    h = make.token(make.agent("admin", [brand]))
    cust = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "Amy\x00\x1b Chang\tL"}, headers=h)
    assert cust.status_code == 201, cust.text
    assert cust.json()["name"] == "Amy Chang\tL"
    t = client.post(
        "/api/v1/tickets",
        json={
            "brand_id": brand.id,
            "subject": "退款\x00問題\r\n",
            "tags": ["a\x00b"],
            "customer_id": cust.json()["id"],
        },
        headers=h,
    )
    assert t.status_code == 201, t.text
    from kefu.tickets.models import Ticket

    db.expire_all()
    ticket = db.get(Ticket, t.json()["id"])
    assert ticket.subject.startswith("退款問題") and "\x00" not in ticket.subject
    assert ticket.tags == ["ab"]


def test_nul_in_a_line_message_is_dropped(
    client: Any, db: Any, make: Any, inbox: Any, line_api: Any, jobs: Any
) -> None:
    """A LINE text with NUL is stored without it (no 422/500, no retry storm from the provider)."""
    from kefu.conversations.models import Message

    brand = make.brand()
    line = inbox(brand, "line", {"channel_secret": "sec", "channel_access_token": "t", "api_base": line_api.url})
    body = line_body(line_text("NUL1", "Unul", "地址\x00改好了嗎\x07？"))
    r = client.post(
        f"/api/v1/channels/line/{line.id}/webhook", content=body, headers={"X-Line-Signature": line_sign("sec", body)}
    )
    assert r.status_code == 200, r.text
    assert jobs.drain()
    db.expire_all()
    bodies = db.scalars(select(Message.body).where(Message.body.like("地址%"))).all()
    assert bodies == ["地址改好了嗎？"]


def test_the_rule_is_on_for_every_engine(client: Any) -> None:
    """Structural: wiring the app installs the cursor-level rule (a new path cannot bypass it by skipping a schema)."""
    from sqlalchemy import Engine, event

    from kefu.core import textrules

    assert event.contains(Engine, "before_cursor_execute", textrules._before_cursor_execute)
    assert textrules.clean_text("a\x00b\x0bc\td\ne\rf\x7f") == "abc\td\ne\rf\x7f"
    assert textrules.json_dumps({"a": "x\x00y", "b": ["\b"]}) == '{"a": "xy", "b": [""]}'  # a JSON column's value
    assert textrules._clean_param('["not json \\u0000') == '["not json \\u0000'


def test_text_that_only_contains_json_escapes_is_stored_as_written(client: Any, db: Any, make: Any) -> None:
    """A JSON snippet typed as text (an escaped backslash before b/f/u00..) is kept byte for byte: only a document
    whose values really held control characters is re-encoded."""
    from kefu.core import textrules

    snippet = '{"dir":"C:\\\\bin","n":1.0}'  # {"dir":"C:\\bin","n":1.0}: no control character in it
    assert textrules._clean_param(snippet) == snippet
    literal = '["\\\\u0000 is how JSON writes NUL"]'
    assert textrules._clean_param(literal) == literal
    typed = '{"x":"\\u0001"}'  # a JSON snippet in a text field: its escape is six printable characters
    assert textrules._clean_param(typed) == typed
    brand = make.brand()
    h = make.token(make.agent("admin", [brand]))
    t = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": snippet}, headers=h)
    assert t.status_code == 201, t.text
    from kefu.tickets.models import Ticket

    db.expire_all()
    assert db.get(Ticket, t.json()["id"]).subject == snippet


def test_json_values_are_cleaned_at_the_database_layer(db: Any, make: Any) -> None:
    """A JSON column's value written by a service (no request to clean it) loses its controls on both databases."""
    from kefu.core.textrules import install_text_rule
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket
    from tests.tickets.helpers import admin_principal

    install_text_rule()
    brand = make.brand()
    t = create_ticket(db, brand_id=brand.id, subject="s\x00x", actor=admin_principal(make.agent("admin")))
    t.tags = ["a\x00b", {"k\x01": "v\x1b"}]
    db.commit()
    db.expire_all()
    stored = db.get(Ticket, t.id)
    assert stored.subject == "sx" and stored.tags == ["ab", {"k": "v"}]
