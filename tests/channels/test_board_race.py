"""Two identical board posts racing: the loser meets the winner's unique provider id and answers with its ticket."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.race_harness import miss_once, needs_pg, race

POST = {"name": "林小姐", "contact": "lin@example.com", "category": "order", "message": "訂單沒出貨"}


def _counts(db: Any, brand_id: int) -> tuple[int, int, int]:
    from kefu.conversations.models import Conversation, Message
    from kefu.tickets.models import Ticket

    def n(model: Any) -> int:
        return int(db.scalar(select(func.count()).select_from(model).where(model.brand_id == brand_id)))

    messages = db.scalar(
        select(func.count()).select_from(Message).join(Conversation).where(Conversation.brand_id == brand_id)
    )
    return n(Ticket), n(Conversation), int(messages)


def _miss_once(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The next lookup misses (it ran before the racing twin committed); later ones are real."""
    from kefu.channels.board import service

    return miss_once(monkeypatch, service, "_provider_id", lambda session, inbox, sid, payload: f"{inbox.kind}:{sid}")


@pytest.mark.parametrize("form", [False, True])
def test_a_post_whose_twin_was_stored_meanwhile_gets_the_twins_ticket(
    client: Any, make: Any, inbox: Any, db: Any, monkeypatch: pytest.MonkeyPatch, form: bool
) -> None:
    """Forced interleaving (both databases): the stored twin's ticket number, 201, nothing created twice."""
    brand = make.brand()
    ib = inbox(brand, "board")
    url = f"/api/v1/channels/board/{ib.id}"
    body = {**POST, "submission_id": "race-0001"}
    first = client.post(url, json=body)
    assert first.status_code == 201, first.text
    before = _counts(db, brand.id)
    missed = _miss_once(monkeypatch)
    second = client.post(url, data=body) if form else client.post(url, json=body)
    assert missed == ["race-0001"]
    assert second.status_code == 201, second.text
    number = first.json()["ticket_number"]
    if form:
        assert number in second.text
    else:
        assert second.json() == first.json()
    db.expire_all()
    assert _counts(db, brand.id) == before == (1, 1, 1)


def test_widget_leave_message_twin_gets_the_same_ticket(
    client: Any, make: Any, inbox: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The widget's leave-a-message files through the same path: its racing twin is answered the same way."""
    brand = make.brand()
    ib = inbox(brand, "web_chat", {"offline": True})
    visitor = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug})
    assert visitor.status_code == 200, visitor.text
    headers = {"X-Kefu-Visitor": visitor.json()["visitor_token"]}
    body = {**POST, "submission_id": "race-0002"}
    first = client.post("/api/v1/widget/leave-message", json=body, headers=headers)
    assert first.status_code == 201, first.text
    _miss_once(monkeypatch)
    second = client.post("/api/v1/widget/leave-message", json=body, headers=headers)
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    db.expire_all()
    assert _counts(db, brand.id)[0] == 1


@needs_pg
def test_two_real_transactions_racing_one_post(shared_db: str) -> None:
    """PostgreSQL, two sessions: both miss the lookup; the loser blocks on the unique key, then replays."""
    from kefu.brands.models import Inbox
    from kefu.channels.board import service
    from kefu.core.db import Database
    from tests.drills.conftest import seed

    s = seed(shared_db, inbox_kind="board", inbox_config={})
    database = Database(shared_db)
    answers: dict[str, Any] = {}

    def post(who: str) -> None:
        with database.session() as db:
            inbox = db.get(Inbox, s["inbox_id"])
            result = service.submit(db, inbox, submission_id="race-0003", **POST)
            answers[who] = (result.ticket.number, result.conversation.id, result.created)

    race(service, "_provider_id", post)
    try:
        assert answers["slow"][:2] == answers["fast"][:2]
        assert answers["fast"][2] is True and answers["slow"][2] is False
        with database.session() as db:
            assert _counts(db, s["brand_id"]) == (1, 1, 1)
    finally:
        database.dispose()
