"""A stranger cannot lock a number's owner out of call-backs by filling the public cap for that number.

The public cap counts open call-backs per (number, requester): a requester is the client address (kept only as a
keyed hash) or, for a missed call the PBX reports, the number itself. A larger per-number ceiling still bounds how
many open call-backs strangers can pile onto one number in the agents' queue.
"""

from __future__ import annotations

from typing import Any

from tests.race_harness import PHONE as VICTIM
from tests.race_harness import booking_brand, from_ip, open_slots, post_booking
from tests.tickets.helpers import Clock, tw


def _book(client: Any, slug: str, at: str, phone: str = VICTIM) -> Any:
    return post_booking(client, slug, at, phone, topic="x")


def test_a_strangers_bookings_do_not_lock_the_owner_out(
    app: Any, client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from sqlalchemy import select

    from kefu.callbacks.models import Callback

    brand = booking_brand(make, clock)
    starts = open_slots(client, brand.slug)
    stranger, owner = from_ip(app, "198.51.100.7"), from_ip(app, "203.0.113.20")
    assert _book(stranger, brand.slug, starts[0]).status_code == 201
    assert _book(stranger, brand.slug, starts[1]).status_code == 201
    assert _book(stranger, brand.slug, starts[2]).status_code == 429  # the stranger's own share is used up
    mine = _book(owner, brand.slug, starts[3], "+886 912 345 678")  # the owner, another spelling: still bookable
    assert mine.status_code == 201, mine.text
    requesters = db.scalars(select(Callback.requester).where(Callback.brand_id == brand.id).order_by(Callback.id))
    kept = list(requesters)
    assert len(set(kept)) == 2 and all(r and "198.51" not in r and "203.0" not in r for r in kept)  # hashed


def test_a_per_number_ceiling_still_bounds_the_pile_up(app: Any, client: Any, make: Any, clock: Clock) -> None:
    from kefu.callbacks.service import PUBLIC_PER_NUMBER, PUBLIC_PER_REQUESTER

    brand = booking_brand(make, clock)
    starts = iter(open_slots(client, brand.slug))
    for i in range(PUBLIC_PER_NUMBER // PUBLIC_PER_REQUESTER):
        for _ in range(PUBLIC_PER_REQUESTER):
            assert _book(from_ip(app, f"192.0.2.{i + 1}"), brand.slug, next(starts)).status_code == 201
    assert _book(from_ip(app, "192.0.2.200"), brand.slug, next(starts)).status_code == 429
    assert _book(from_ip(app, "192.0.2.200"), brand.slug, next(starts), "0922-000-111").status_code == 201


def test_a_missed_call_from_the_number_books_even_when_strangers_filled_it(make: Any, db: Any, clock: Clock) -> None:
    """The PBX's caller id is the number itself asking: strangers' web bookings never count against it."""
    from kefu.brands.service import get_brand
    from kefu.callbacks.service import OWNER, PUBLIC_PER_NUMBER, book, slots

    brand = booking_brand(make, clock)
    starts = [s.start for s in slots(db, get_brand(db, brand.id))]
    for i in range(PUBLIC_PER_NUMBER):
        book(db, brand.id, scheduled_at=starts[i], phone=VICTIM, source="portal", actor=None, requester=f"ip:{i // 2}")
    cb = book(
        db, brand.id, scheduled_at=starts[PUBLIC_PER_NUMBER], phone=VICTIM, source="phone", actor=None, requester=OWNER
    )
    assert cb.requester == OWNER


def test_agents_see_which_bookings_share_a_number(app: Any, client: Any, make: Any, db: Any, clock: Clock) -> None:
    """The queue marks each booked call-back whose number has others open, so agents call once, not three times."""
    from tests.web.test_admin_pages import _login

    brand = make.brand(timezone="Asia/Taipei")
    agent = make.agent("agent", [brand])
    clock.set(tw(2026, 3, 9, 9, 0))
    starts = open_slots(client, brand.slug)
    assert _book(from_ip(app, "198.51.100.7"), brand.slug, starts[0]).status_code == 201
    assert _book(from_ip(app, "203.0.113.20"), brand.slug, starts[1], "+886 912 345 678").status_code == 201
    assert _book(from_ip(app, "203.0.113.20"), brand.slug, starts[2], "0922-000-111").status_code == 201
    db.commit()
    _login(client, agent)
    page = client.get("/console/callbacks?view=booked&lang=zh-TW")
    assert page.status_code == 200
    assert page.text.count("同一號碼另有 1 筆預約") == 2  # the two spellings of one number, not the other number
    en = client.get("/console/callbacks?view=booked&lang=en")
    assert en.text.count("Same number: 1 more open") == 2
