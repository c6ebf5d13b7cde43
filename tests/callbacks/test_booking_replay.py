"""A public call-back post sent twice books once: the same id and content answer with the first booking."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import PG_URL
from tests.tickets.helpers import Clock, tw


def _from(app: Any, ip: str) -> TestClient:
    return TestClient(app, base_url="http://testserver", client=(ip, 40000))


def _slots(client: Any, slug: str) -> list[str]:
    r = client.get(f"/api/v1/public/brands/{slug}/callback-slots")
    assert r.status_code == 200, r.text
    return [s["start"] for s in r.json()["slots"]]


def _post(client: Any, slug: str, at: str, sid: str | None, phone: str = "0912-345-678") -> Any:
    body: dict[str, Any] = {"scheduled_at": at, "phone": phone, "name": "王", "topic": "帳單"}
    if sid is not None:
        body["submission_id"] = sid
    return client.post(f"/api/v1/public/brands/{slug}/callbacks", json=body)


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
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    caller = _from(app, "198.51.100.7")
    starts = _slots(caller, brand.slug)
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

    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    caller = _from(app, "198.51.100.7")
    starts = _slots(caller, brand.slug)
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
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    starts = _slots(_from(app, "198.51.100.7"), brand.slug)
    mine = _post(_from(app, "198.51.100.7"), brand.slug, starts[0], "tap-00000004")
    theirs = _post(_from(app, "203.0.113.20"), brand.slug, starts[0], "tap-00000004")
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert mine.json()["ticket_number"] != theirs.json()["ticket_number"]


def test_a_post_without_an_id_books_each_time(app: Any, make: Any, db: Any, clock: Clock) -> None:
    """Clients that send no id keep the old behaviour: every post is a booking (the cap still applies)."""
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    caller = _from(app, "198.51.100.7")
    starts = _slots(caller, brand.slug)
    assert _post(caller, brand.slug, starts[0], None).status_code == 201
    assert _post(caller, brand.slug, starts[0], None).status_code == 201
    assert _counts(db, brand.id) == (2, 2)


def test_the_portal_form_sent_twice_books_once(app: Any, make: Any, db: Any, clock: Clock) -> None:
    """The form carries a hidden submission id: a double tap shows the same case number and books one call."""
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    client = _from(app, "198.51.100.7")
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


def _miss_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The next lookup misses (it ran before the racing twin committed); later ones are real."""
    from kefu.callbacks import service

    real = service._filed_under
    missed: list[str] = []

    def lookup(session: Any, brand_id: int, submission_id: str, digest: str) -> Any:
        if not missed:
            missed.append(submission_id)
            return submission_id
        return real(session, brand_id, submission_id, digest)

    monkeypatch.setattr(service, "_filed_under", lookup)
    return missed


def test_a_post_whose_twin_was_stored_meanwhile_replays_the_twin(
    app: Any, make: Any, db: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced interleaving (both databases): the insert meets the twin's unique id, rolls back, answers with it."""
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    caller = _from(app, "198.51.100.7")
    starts = _slots(caller, brand.slug)
    first = _post(caller, brand.slug, starts[0], "race-00000001")
    assert first.status_code == 201, first.text
    missed = _miss_once(monkeypatch)
    second = _post(caller, brand.slug, starts[0], "race-00000001")
    assert missed == ["race-00000001"]
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert _counts(db, brand.id) == (1, 1)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL not configured (SQLite writers are serialized: no race there)")
def test_two_real_transactions_racing_one_booking(shared_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
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
    looked_up, release = threading.Event(), threading.Event()
    real = service._filed_under

    def held(session: Any, brand_id: int, submission_id: str, digest: str) -> Any:
        out = real(session, brand_id, submission_id, digest)
        if threading.current_thread().name == "slow" and not looked_up.is_set():
            looked_up.set()  # this lookup missed; the twin now books and commits before this one inserts
            assert release.wait(30)
        return out

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

    monkeypatch.setattr(service, "_filed_under", held)
    slow = threading.Thread(target=post, args=("slow",), name="slow")
    slow.start()
    assert looked_up.wait(30)
    post("fast")
    release.set()
    slow.join(30)
    try:
        assert answers["slow"] == answers["fast"]
        with database.session() as db:
            n = db.scalar(select(func.count()).select_from(Callback).where(Callback.brand_id == s["brand_id"]))
            assert n == 1
    finally:
        database.dispose()
