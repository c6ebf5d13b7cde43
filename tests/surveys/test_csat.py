"""CSAT: queued on the ticket's channel within 48 h of resolution, public page + API, one answer per ticket."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation


def _resolved_ticket(db: Any, make: Any, *, channel: str = "line", locale: str | None = None) -> tuple[Any, Any]:
    from kefu.conversations.service import create_conversation
    from kefu.tickets.service import create_ticket, update_ticket

    brand = make.brand()
    customer = make.customer(brand, name="陳小姐", locale=locale)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel=channel), actor=None
    )
    ticket = create_ticket(
        db,
        brand_id=brand.id,
        subject="退款進度",
        actor=None,
        customer_id=customer.id,
        conversation_id=conv.id,
        channel=channel,
    )
    update_ticket(db, ticket, None, {"status": "resolved"})
    db.commit()
    return ticket, conv


def _token(body: str) -> str:
    m = re.search(r"/survey/([0-9]+\.[A-Za-z0-9_-]+)", body)
    assert m, body
    return m.group(1)


def test_survey_queued_once_on_the_same_conversation(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.conversations.models import Message
    from kefu.sla.models import TicketSla
    from kefu.surveys.models import CsatSurvey
    from kefu.surveys.service import send_due_csat

    ticket, conv = _resolved_ticket(db, make)
    assert send_due_csat(db) == 1
    db.commit()
    assert send_due_csat(db) == 0  # one survey per ticket
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id))
    assert survey.channel == "line" and survey.conversation_id == conv.id and survey.locale == "zh-TW"
    msg = db.get(Message, survey.message_id)
    assert msg.sender_type == "bot" and msg.conversation_id == conv.id and not msg.is_note
    assert ticket.number in msg.body and "/survey/" in msg.body and "lang=zh-TW" in msg.body
    assert msg.meta["survey"]["kind"] == "csat"
    sla = db.get(TicketSla, ticket.id)
    if sla is not None:  # the SLA engine's CSAT target is met by the send
        assert sla.survey_sent_at is not None
    assert any(e.type == "survey.sent" for e in events)


def test_no_survey_outside_the_48h_window_or_without_a_conversation(db: Any, make: Any) -> None:
    from kefu.core.db import utcnow
    from kefu.surveys.service import due_tickets
    from kefu.tickets.service import create_ticket, update_ticket

    ticket, _ = _resolved_ticket(db, make)
    assert [t.id for t in due_tickets(db)] == [ticket.id]
    assert due_tickets(db, now=utcnow() + timedelta(hours=49)) == []
    brand = make.brand(ticket_prefix="NC")
    bare = create_ticket(db, brand_id=brand.id, subject="no channel", actor=None)
    update_ticket(db, bare, None, {"status": "resolved"})
    db.commit()
    assert bare.id not in [t.id for t in due_tickets(db)]


def test_public_page_answer_once(client: Any, db: Any, make: Any, events: list[Any]) -> None:
    from kefu.conversations.models import Message
    from kefu.surveys.models import CsatSurvey
    from kefu.surveys.service import send_due_csat

    ticket, _ = _resolved_ticket(db, make)
    send_due_csat(db)
    db.commit()
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id))
    token = _token(db.get(Message, survey.message_id).body)
    page = client.get(f"/survey/{token}")
    assert page.status_code == 200 and ticket.number in page.text and 'name="rating"' in page.text
    r = client.post(f"/survey/{token}", data={"rating": "5", "comment": "客服很親切，謝謝！"})
    assert r.status_code == 200 and "感謝您的回饋" in r.text
    db.refresh(survey)
    assert survey.rating == 5 and survey.comment == "客服很親切，謝謝！" and survey.answered_at is not None
    again = client.post(f"/survey/{token}", data={"rating": "1"})
    assert "已經填寫過" in again.text
    db.refresh(survey)
    assert survey.rating == 5
    assert client.post(f"/api/v1/surveys/csat/{token}", json={"rating": 2}).status_code == 409
    assert client.get(f"/api/v1/surveys/csat/{token}").json()["rating"] == 5
    assert any(e.type == "survey.answered" and e.data["rating"] == 5 for e in events)


def test_api_answer_validation_and_forged_tokens(client: Any, db: Any, make: Any) -> None:
    from kefu.surveys.models import CsatSurvey
    from kefu.surveys.service import make_token, send_due_csat

    ticket, _ = _resolved_ticket(db, make, channel="email", locale="en")
    send_due_csat(db)
    db.commit()
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id))
    assert survey.locale == "en"
    token = make_token("csat", survey.id)
    assert client.post(f"/api/v1/surveys/csat/{token}", json={"rating": 6}).status_code == 422
    forged = f"{survey.id}.AAAAAAAAAAAAAAAAAAAAAAAA"
    assert client.get(f"/api/v1/surveys/csat/{forged}").status_code == 404
    assert client.get(f"/survey/{forged}").status_code == 404
    assert client.get(f"/api/v1/surveys/csat/{make_token('campaign', survey.id)}").status_code == 404
    r = client.post(f"/api/v1/surveys/csat/{token}", json={"rating": 4, "comment": "fast"})
    assert r.status_code == 200 and r.json() == {
        "brand": survey_brand(db, survey),
        "ticket_number": ticket.number,
        "answered": True,
        "expired": False,
        "rating": 4,
    }
    page = client.get(f"/survey/{token}?lang=en")
    assert "already been answered" in page.text


def survey_brand(db: Any, survey: Any) -> str:
    from kefu.brands.models import Brand

    return db.get(Brand, survey.brand_id).name


def test_expired_survey_refuses_answers(db: Any, make: Any) -> None:
    import pytest

    from kefu.core.db import utcnow
    from kefu.core.errors import Conflict
    from kefu.surveys.models import CsatSurvey
    from kefu.surveys.service import answer_csat, send_due_csat

    ticket, _ = _resolved_ticket(db, make)
    send_due_csat(db)
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id))
    with pytest.raises(Conflict):
        answer_csat(db, survey, 5, now=utcnow() + timedelta(days=31))


def test_send_csat_job_runs_in_its_own_session(db: Any, make: Any, jobs: Any, engine: Any) -> None:
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs

    load_jobs()
    from kefu.core import runtime
    from kefu.core.db import DATABASE, Database
    from kefu.surveys.models import CsatSurvey

    ticket, _ = _resolved_ticket(db, make)
    database = Database.__new__(Database)
    database.engine = engine
    database.sessionmaker = lambda: type(db)(
        bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )  # type: ignore[assignment]
    with runtime.override(DATABASE, database):
        run_job("surveys.send_csat", {})
    assert db.scalar(select(CsatSurvey.id).where(CsatSurvey.ticket_id == ticket.id)) is not None
