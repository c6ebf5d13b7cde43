"""Red-team pass 2 (2026-12-07): side paths probed as an attacker; each test failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kefu.conversations.commands import CreateConversation


def _erase(db: Any, customer_id: int) -> None:
    from kefu.privacy.service import erase_customer

    erase_customer(db, customer_id, None, reason="data subject asked")
    db.commit()


# ---------------------------------------------------------------- capability links die with the customer's data


@pytest.mark.parametrize("merged", [False, True])
def test_a_csat_link_is_dead_after_the_customer_is_erased(client: Any, db: Any, make: Any, merged: bool) -> None:
    """An unanswered survey link kept working after erasure: the answer stored new personal text nobody erases.

    `merged`: the survey's customer was merged into another record first, and that record is erased.
    """
    from kefu.conversations.service import create_conversation
    from kefu.surveys.models import CsatSurvey
    from kefu.surveys.service import make_token, send_due_csat
    from kefu.tickets.service import create_ticket, update_ticket

    brand = make.brand()
    customer = make.customer(brand, name="陳小姐")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="line"), actor=None
    )
    ticket = create_ticket(
        db,
        brand_id=brand.id,
        subject="退款",
        actor=None,
        customer_id=customer.id,
        conversation_id=conv.id,
        channel="line",
    )
    update_ticket(db, ticket, None, {"status": "resolved"})
    db.commit()
    assert send_due_csat(db) == 1
    db.commit()
    survey = db.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id))
    token = make_token("csat", survey.id)
    assert client.get(f"/api/v1/surveys/csat/{token}").status_code == 200
    erased = customer
    if merged:
        from kefu.customers.service import merge_customers

        erased = make.customer(brand, name="陳美華")
        merge_customers(db, erased, customer, None)
        db.commit()
        assert client.get(f"/api/v1/surveys/csat/{token}").status_code == 200
    _erase(db, erased.id)
    missing = client.get("/api/v1/surveys/csat/1.forged")
    for r in (
        client.get(f"/api/v1/surveys/csat/{token}"),
        client.post(f"/api/v1/surveys/csat/{token}", json={"rating": 1, "comment": "我是陳美華 0912345678"}),
    ):
        assert r.status_code == 404 and r.json()["detail"] == missing.json()["detail"], r.text
    assert client.get(f"/survey/{token}").status_code == 404
    assert client.post(f"/survey/{token}", data={"rating": "1", "comment": "陳美華"}).status_code == 404
    db.expire_all()
    assert db.get(CsatSurvey, survey.id).comment in ("", None)


def test_a_campaign_link_is_dead_after_the_customer_is_erased(client: Any, db: Any, make: Any, jobs: Any) -> None:
    """Same for a campaign invitation."""
    from kefu.conversations.service import create_conversation
    from kefu.surveys.models import CampaignRecipient
    from kefu.surveys.service import make_token

    brand = make.brand()
    customer = make.customer(brand, name="林先生")
    create_conversation(db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="line"), actor=None)
    db.commit()
    sup = make.token(make.agent("supervisor", [brand]))
    body = {"brand_id": brand.id, "name": "Q3", "dimensions": [{"key": "q", "label_zh": "品質", "label_en": "Q"}]}
    cid = client.post("/api/v1/survey-campaigns", json=body, headers=sup).json()["id"]
    launched = client.post(f"/api/v1/survey-campaigns/{cid}/launch", json={"closes_in_days": 7}, headers=sup)
    assert launched.status_code == 200
    jobs.drain()
    rec = db.scalar(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid))
    assert rec is not None and rec.customer_id == customer.id
    token = make_token("campaign", rec.id)
    assert client.get(f"/api/v1/surveys/campaign/{token}").status_code == 200
    _erase(db, customer.id)
    assert client.get(f"/api/v1/surveys/campaign/{token}").status_code == 404
    r = client.post(f"/api/v1/surveys/campaign/{token}", json={"scores": {"q": 1}, "comment": "林志明"})
    assert r.status_code == 404
    assert client.get(f"/survey/c/{token}").status_code == 404
    db.expire_all()
    assert db.get(CampaignRecipient, rec.id).answered_at is None


def test_a_claim_link_does_not_bring_an_erased_visitor_back(client: Any, db: Any, make: Any) -> None:
    """A claim link mailed before the visitor's erasure wrote the address back onto the erased record, or merged it."""
    from kefu.customers.claims import record_claim
    from kefu.customers.models import Customer, CustomerIdentity

    brand = make.brand()
    visitor = make.customer(brand, name="訪客")
    token = record_claim(db, visitor, "email", "amy@example.com")
    db.commit()
    _erase(db, visitor.id)
    invalid = client.post("/api/v1/widget/verify", data={"token": "x.y"})
    r = client.post("/api/v1/widget/verify", data={"token": token})
    assert r.status_code == invalid.status_code and r.status_code >= 400, r.text
    db.expire_all()
    erased = db.get(Customer, visitor.id)
    assert erased.email is None and erased.merged_into_id is None
    assert db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.customer_id == visitor.id)) is None
    # Also when the address has an owner: the erased record is not merged into it.
    owner = make.customer(brand, name="Amy", email="amy@example.com")
    db.commit()
    assert client.post("/api/v1/widget/verify", data={"token": token}).status_code == invalid.status_code
    db.expire_all()
    assert db.get(Customer, visitor.id).merged_into_id is None and owner.id


def test_a_reply_to_an_old_mail_does_not_thread_into_an_erased_conversation(
    client: Any, db: Any, make: Any, jobs: Any, session_factory: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """The erased customer answering an agent's old mail (valid reply token) starts afresh, never in the erased case."""
    from email.message import EmailMessage

    from kefu.brands.service import create_inbox
    from kefu.channels.email.receiver import persist
    from kefu.channels.email.tokens import make_message_id
    from kefu.conversations.models import Conversation, Message

    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path))
    brand = make.brand()
    ib = create_inbox(db, brand, kind="email", name="mail", config={"address": "help@shop.example"}, actor=None)
    db.commit()

    def mail(body: str, in_reply_to: str | None = None) -> bytes:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "Amy Wang <amy@example.com>", "help@shop.example", "退款 陳美華"
        if in_reply_to:
            m["In-Reply-To"] = m["References"] = in_reply_to
        m.set_content(body)
        return m.as_bytes()

    persist(session_factory, mail("我是陳美華，電話 0912345678"), ["help@shop.example"])
    jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    old_reply = make_message_id(conv.id, "shop.example")
    _erase(db, conv.customer_id)
    persist(session_factory, mail("還是我，陳美華", in_reply_to=old_reply), ["help@shop.example"])
    jobs.drain()
    db.expire_all()
    latest = db.scalar(select(Message).order_by(Message.id.desc()).limit(1))
    assert "陳美華" in latest.body and latest.conversation_id != conv.id
    assert db.get(Conversation, latest.conversation_id).customer_id != db.get(Conversation, conv.id).customer_id


def test_a_visitor_token_shows_nothing_of_an_erased_chat(client: Any, db: Any, make: Any) -> None:
    """The browser's stored visitor token after erasure: no history, no conversation, no old customer record."""
    from kefu.brands.service import create_inbox
    from kefu.conversations.models import Conversation

    brand = make.brand()
    ib = create_inbox(db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    db.commit()
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    h = {"X-Kefu-Visitor": token}
    sent = client.post("/api/v1/widget/messages", json={"body": "我是陳美華 0912345678", "client_id": "c1"}, headers=h)
    assert sent.status_code == 201, sent.text
    conv = db.get(
        Conversation,
        client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "visitor_token": token}).json()[
            "conversation_id"
        ],
    )
    assert client.get("/api/v1/widget/messages", headers=h).json()["items"]
    _erase(db, conv.customer_id)
    assert client.get("/api/v1/widget/messages", headers=h).json()["items"] == []
    again = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "visitor_token": token}).json()
    assert again["conversation_id"] is None
    client.post("/api/v1/widget/messages", json={"body": "新的問題", "client_id": "c2"}, headers=h)
    db.expire_all()
    items = client.get("/api/v1/widget/messages", headers=h).json()["items"]
    assert [m["body"] for m in items if m["sender_type"] == "customer"] == ["新的問題"]
    assert db.scalar(select(Conversation.customer_id).order_by(Conversation.id.desc()).limit(1)) != conv.customer_id


# ---------------------------------------------------------------- capability links in log lines


def test_capability_links_never_reach_the_access_log(caplog: Any, settings: Any) -> None:
    """A survey link (`<id>.<mac>`) was logged whole, a media link kept its MAC (its body is guessable: id, time).

    The path-token rule matched only a segment's first dot-separated part, so either token survived.
    """
    import logging
    from urllib.parse import urlsplit

    from kefu.channels.media import public_url
    from kefu.security.logredact import install_log_redaction, redact
    from kefu.surveys.service import make_token

    install_log_redaction()
    media_path = urlsplit(public_url(7, "收據.png")).path
    media_token = media_path.split("/")[-2]
    tokens = [make_token("csat", n) for n in (1, 12, 123456)] + [make_token("campaign", 3), media_token]
    paths = [f"/survey/{tokens[0]}?lang=zh-TW", f"/api/v1/surveys/csat/{tokens[1]}", f"/survey/{tokens[2]}"]
    paths += [f"/survey/c/{tokens[3]}", media_path]
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO):
        for path in paths:
            access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1", "GET", path, "1.1", 200)
    out = "\n".join(r.getMessage() for r in caplog.records)
    for token in tokens:
        for part in token.split("."):
            assert part not in out or len(part) < 8, (part, out)
    # What an operator needs stays readable: the route, the language, a file's name.
    assert "/survey/c/[redacted]" in out and "lang=zh-TW" in out and "/api/v1/channels/media/[redacted]/" in out
    assert redact("/static/vendor/htmx.min.js") == "/static/vendor/htmx.min.js"


# ---------------------------------------------------------------- the language switch names this site only


def _raw_get(app: Any, path: str) -> tuple[int, str]:
    """GET with the request target as sent (`GET //evil.example/x HTTP/1.1`; test clients read it as a host)."""
    import asyncio

    out: dict[str, Any] = {"body": b""}
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"].decode(errors="replace")


def test_the_language_switch_never_links_to_another_host(app: Any, client: Any, make: Any) -> None:
    """`https://kefu.example//evil.example/x` answered a 404 page whose 繁/简/EN links went to //evil.example."""
    import re

    brand = make.brand()
    for path in ("//evil.example/x", f"//evil.example/portal/{brand.slug}", "///evil.example/x", "/\\evil.example/x"):
        status, body = _raw_get(app, path)
        links = re.findall(r'href="([^"]*lang=[^"]*)"', body)
        assert status == 404 and len(links) == 3, (path, status)
        for link in links:
            assert link.startswith("/") and not link.startswith(("//", "/\\")), (path, link)
    # The switch still keeps the page and its other parameters.
    page = client.get(f"/portal/{brand.slug}", params={"q": "退款"})
    assert f'href="/portal/{brand.slug}?q=%E9%80%80%E6%AC%BE&amp;lang=en"' in page.text


def test_no_template_builds_a_link_from_the_request_url() -> None:
    """Links to "this page" go through `lang_url` (a same-site path); a template reading request.url.path for an href
    would link to whatever host a `//host/…` request named."""
    from pathlib import Path

    import kefu.web

    root = Path(kefu.web.__file__).parent / "templates"
    bad = [
        str(p.relative_to(root))
        for p in root.rglob("*.html")
        if "include_query_params(" in (text := p.read_text(encoding="utf-8")) or "{{ request.url" in text
    ]
    assert bad == [], f"use lang_url(request, locale): {bad}"
