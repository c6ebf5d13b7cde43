"""The public cap on open call-backs per number counts the number, not the way it was typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tickets.helpers import Clock, tw


def _slots(client: Any, slug: str) -> list[str]:
    r = client.get(f"/api/v1/public/brands/{slug}/callback-slots")
    assert r.status_code == 200, r.text
    return [s["start"] for s in r.json()["slots"]]


def test_three_spellings_of_one_number_are_one_number_for_the_cap(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from sqlalchemy import select

    from kefu.callbacks.models import Callback

    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))  # Monday 09:00 Taipei
    starts = _slots(client, brand.slug)
    url = f"/api/v1/public/brands/{brand.slug}/callbacks"

    def book(phone: str, at: str) -> Any:
        return client.post(url, json={"scheduled_at": at, "phone": phone, "name": "王", "topic": "x"})

    assert book("0912-345-678", starts[0]).status_code == 201
    assert book("+886 912 345 678", starts[1]).status_code == 201
    third = book("0912345678", starts[2])
    assert third.status_code == 429, third.text  # two open call-backs for this number already
    assert book("00886-912-345-678", starts[3]).status_code == 429
    # Other numbers are not affected, in any spelling.
    assert book("0922-000-111", starts[2]).status_code == 201
    assert book("+886 922 000 111", starts[3]).status_code == 201
    assert book("(02) 2345-6789", starts[4]).status_code == 201
    keys = db.scalars(select(Callback.phone_key).where(Callback.brand_id == brand.id).order_by(Callback.id)).all()
    assert keys == ["0912345678", "0912345678", "0922000111", "0922000111", "0223456789"]
    # Digits that are no phone number are refused as before (422), not counted under some key.
    assert book("+886 000 000", starts[5]).status_code == 422


def test_phone_key_follows_the_number_and_erasure(make: Any, db: Any) -> None:
    from kefu.callbacks.models import Callback
    from kefu.privacy.contract import erase_owned
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    customer = make.customer(brand, name="王")
    ticket = create_ticket(db, brand_id=brand.id, subject="s", actor=None, customer_id=customer.id, channel="phone")
    cb = Callback(
        brand_id=brand.id,
        ticket_id=ticket.id,
        customer_id=customer.id,
        phone="+886 912 345 678",
        source="agent",
        scheduled_at=tw(2026, 3, 9, 10, 0),
    )
    db.add(cb)
    db.flush()
    assert cb.phone_key == "0912345678"
    cb.phone = "02-8765-4321"
    assert cb.phone_key == "0287654321"
    erase_owned(db, [customer.id])
    assert cb.phone == "" and cb.phone_key is None


def test_migration_fills_the_key_of_existing_call_backs(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "2310")  # callbacks as they were before the key
    engine = create_engine(url)  # foreign keys off: the rows need no brand or ticket for this check
    phones = ["0912-345-678", "+886 912 345 678", "001 415 555 0100", "12-34", ""]
    with engine.begin() as conn:
        for i, phone in enumerate(phones, start=1):
            conn.execute(
                text(
                    "INSERT INTO callbacks (id, brand_id, ticket_id, phone, name, topic, source, scheduled_at,"
                    " window_minutes, status, note, created_at, mode, needs_sign_language)"
                    " VALUES (:id, 1, 1, :phone, '', '', 'portal', '2026-03-09 02:00:00', 30, 'booked', '',"
                    " '2026-03-01 00:00:00', 'phone', 0)"
                ),
                {"id": i, "phone": phone},
            )
    upgrade(url, "2760")
    with engine.connect() as conn:
        keys = [k for (k,) in conn.execute(text("SELECT phone_key FROM callbacks ORDER BY id"))]
    engine.dispose()
    assert keys == ["0912345678", "0912345678", "+14155550100", None, None]
