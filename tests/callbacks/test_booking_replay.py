"""A public call-back post sent twice books once: the same id and content answer with the first booking."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.race_harness import booking_brand, from_ip, miss_once, needs_pg, open_slots, post_booking, race
from tests.tickets.helpers import Clock


def _post(client: Any, slug: str, at: str, sid: str | None) -> Any:
    return post_booking(client, slug, at, submission_id=sid)


def _counts(db: Any, brand_id: int) -> tuple[int, int]:
    from kefu.callbacks.models import Callback
    from kefu.tickets.models import Ticket

    db.expire_all()
    calls = db.scalar(select(func.count()).select_from(Callback).where(Callback.brand_id == brand_id))
    cases = db.scalar(select(func.count()).select_from(Ticket).where(Ticket.brand_id == brand_id))
    return int(calls), int(cases)


def test_a_retried_api_post_answers_with_the_first_booking_and_keeps_the_cap(
    app: Any, make: Any, db: Any, clock: Clock
) -> None:
    """The same id and content: the first answer again, one booking; the client's second share is still free."""
    brand = booking_brand(make, clock)
    caller = from_ip(app, "198.51.100.7")
    starts = open_slots(caller, brand.slug)
    first = _post(caller, brand.slug, starts[0], "tap-00000001")
    assert first.status_code == 201, first.text
    again = _post(caller, brand.slug, starts[0], "tap-00000001")
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert _counts(db, brand.id) == (1, 1)
    # The replay spent no share of the cap (2 open bookings per client and number): another booking still fits.
    other = _post(caller, brand.slug, starts[1], "tap-00000002")
    assert other.status_code == 201, other.text
    assert _counts(db, brand.id) == (2, 2)


def test_the_same_id_with_other_content_is_a_new_booking(app: Any, make: Any, db: Any, clock: Clock) -> None:
    """Another slot under a used id (the form restored by Back): a booking of its own, the first one untouched."""
    from kefu.callbacks.models import Callback

    brand = booking_brand(make, clock)
    caller = from_ip(app, "198.51.100.7")
    starts = open_slots(caller, brand.slug)
    first = _post(caller, brand.slug, starts[0], "tap-00000003")
    second = _post(caller, brand.slug, starts[1], "tap-00000003")
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["ticket_number"] != second.json()["ticket_number"]
    db.expire_all()
    filed = list(db.scalars(select(Callback.submission).where(Callback.brand_id == brand.id).order_by(Callback.id)))
    assert filed[0] == "tap-00000003" and filed[1] is not None and filed[1].startswith("tap-00000003:")
    # ...and that second post, sent again, replays its own booking (found under the derived id).
    third = _post(caller, brand.slug, starts[1], "tap-00000003")
    assert third.json() == second.json()
    assert _counts(db, brand.id) == (2, 2)


def test_another_client_replaying_someones_post_gets_nothing_of_theirs(
    app: Any, make: Any, db: Any, clock: Clock
) -> None:
    """The id and content copied from another address is that address's own booking, never the first one's case."""
    brand = booking_brand(make, clock)
    starts = open_slots(from_ip(app, "198.51.100.7"), brand.slug)
    mine = _post(from_ip(app, "198.51.100.7"), brand.slug, starts[0], "tap-00000004")
    theirs = _post(from_ip(app, "203.0.113.20"), brand.slug, starts[0], "tap-00000004")
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert mine.json()["ticket_number"] != theirs.json()["ticket_number"]


def test_a_post_without_an_id_books_each_time(app: Any, make: Any, db: Any, clock: Clock) -> None:
    """Clients that send no id keep the old behaviour: every post is a booking (the cap still applies)."""
    brand = booking_brand(make, clock)
    caller = from_ip(app, "198.51.100.7")
    starts = open_slots(caller, brand.slug)
    assert _post(caller, brand.slug, starts[0], None).status_code == 201
    assert _post(caller, brand.slug, starts[0], None).status_code == 201
    assert _counts(db, brand.id) == (2, 2)


def test_the_portal_form_sent_twice_books_once(app: Any, make: Any, db: Any, clock: Clock) -> None:
    """The form carries a hidden submission id: a double tap shows the same case number and books one call."""
    brand = booking_brand(make, clock)
    client = from_ip(app, "198.51.100.7")
    page = client.get(f"/portal/{brand.slug}/callback?lang=zh-TW")
    sid = re.search(r'name="submission_id" value="([0-9a-f]{32})"', page.text)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    slot = re.search(r'<option value="([^"]+)"', page.text)
    assert sid and csrf and slot, page.text
    form = {"csrf_token": csrf.group(1), "slot": slot.group(1), "phone": "0912345678", "name": "王先生"}
    form["submission_id"] = sid.group(1)
    first = client.post(f"/portal/{brand.slug}/callback", data=form)
    second = client.post(f"/portal/{brand.slug}/callback", data=form)
    assert first.status_code == second.status_code == 200, second.text
    numbers = [re.findall(r"[A-Z]+-\d{6,}-?\d*", r.text) for r in (first, second)]
    assert numbers[0] and numbers[0] == numbers[1]
    assert _counts(db, brand.id) == (1, 1)
    # A form rejected for a reason comes back with the same id, so its corrected post is still one booking.
    bad = client.post(f"/portal/{brand.slug}/callback", data={**form, "slot": "not-a-time"})
    assert bad.status_code == 422 and f'value="{sid.group(1)}"' in bad.text


def test_a_post_whose_twin_was_stored_meanwhile_replays_the_twin(
    app: Any, make: Any, db: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced interleaving (both databases): the insert meets the twin's unique id, rolls back, answers with it."""
    brand = booking_brand(make, clock)
    caller = from_ip(app, "198.51.100.7")
    starts = open_slots(caller, brand.slug)
    first = _post(caller, brand.slug, starts[0], "race-00000001")
    assert first.status_code == 201, first.text
    from kefu.callbacks import service

    missed = miss_once(monkeypatch, service, "_filed_under", lambda session, brand_id, sid, digest: sid)
    second = _post(caller, brand.slug, starts[0], "race-00000001")
    assert missed == ["race-00000001"]
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert _counts(db, brand.id) == (1, 1)


@needs_pg
def test_two_real_transactions_racing_one_booking(shared_db: str) -> None:
    """PostgreSQL, two sessions: both miss the lookup; the loser blocks on the unique id, then replays."""
    from kefu.brands.models import Brand
    from kefu.callbacks import service
    from kefu.callbacks.models import Callback
    from kefu.core.db import Database
    from tests.drills.conftest import seed

    s = seed(shared_db, inbox_kind=None)
    database = Database(shared_db)
    with database.session() as db:
        brand = db.get(Brand, s["brand_id"])
        assert brand is not None
        at = service.slots(db, brand)[0].start
    answers: dict[str, Any] = {}

    def post(who: str) -> None:
        with database.session() as db:
            cb = service.book(
                db,
                s["brand_id"],
                scheduled_at=at,
                phone="0912345678",
                source="portal",
                actor=None,
                requester="ip:race",
                submission_id="race-00000002",
            )
            db.commit()
            answers[who] = (cb.id, cb.ticket_id)

    race(service, "_filed_under", post)
    try:
        assert answers["slow"] == answers["fast"]
        with database.session() as db:
            n = db.scalar(select(func.count()).select_from(Callback).where(Callback.brand_id == s["brand_id"]))
            assert n == 1
    finally:
        database.dispose()
