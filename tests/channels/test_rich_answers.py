"""Rich KB answers reach each channel safely: sanitised HTML in email (with a plain-text part) and the portal."""

from __future__ import annotations

from typing import Any

from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq
from tests.channels.servers import upstream  # noqa: F401 - SMTP fixture

RICH = (
    '<p>掛失請撥 <a href="tel:0800000123">0800-000-123</a> 或 <a href="https://bank.example/lost">線上掛失</a>。</p>'
    '<ol><li>登入網銀</li><li>點選「卡片掛失」</li></ol><img src="https://cdn.bank.example/card.png" alt="卡片"'
    ' onerror="steal()"><script>steal()</script>'
)


def _faq(db: Any, brand: Any) -> Any:
    from kefu.knowledge.service import create_faq

    faq = create_faq(
        db,
        None,
        CreateFaq(brand_id=brand.id, locale="zh-TW", questions=["信用卡掛失"], answer=RICH, answer_format="html"),
    )
    db.commit()
    return faq


def test_email_gets_plain_text_and_sanitised_html_parts(
    client: Any,
    make: Any,
    db: Any,
    jobs: Any,
    inbox: Any,
    upstream: Any,  # noqa: F811
) -> None:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.customers.service import find_or_create_by_identity

    captured, port = upstream
    brand = make.brand()
    ib = inbox(brand, "email", {"address": "help@bank.example", "smtp_host": "127.0.0.1", "smtp_port": port})
    customer, _ = find_or_create_by_identity(db, brand.id, "email", "amy@example.com", "Amy")
    conv = create_conversation(
        db,
        CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="email", inbox_id=ib.id, subject="卡片"),
        actor=None,
    )
    faq = _faq(db, brand)
    add_message(db, conv, sender_type="bot", body=faq.answer, meta={"faq_id": faq.id, "ask_feedback": True})
    db.commit()
    assert jobs.drain()
    mail = captured.wait(1)[0]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "線上掛失 (https://bank.example/lost)" in text and "1. 登入網銀" in text and "<" not in text.split("\n")[0]
    assert '<a href="https://bank.example/lost"' in html and "<ol><li>登入網銀</li>" in html
    assert "script" not in html and "onerror" not in html
    # An agent's ordinary reply stays a plain-text mail.
    add_message(db, conv, sender_type="agent", body="您好，已為您處理。")
    db.commit()
    assert jobs.drain()
    assert captured.wait(2)[1].get_body(preferencelist=("html",)) is None


def test_portal_shows_rich_answers_sanitised(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    _faq(db, brand)
    page = client.get(f"/portal/{brand.slug}", params={"q": "掛失"})
    assert page.status_code == 200
    assert '<a href="https://bank.example/lost" target="_blank" rel="noopener noreferrer nofollow">' in page.text
    assert "<ol><li>登入網銀</li>" in page.text and "steal()" not in page.text


def test_text_only_channels_get_answers_as_plain_text(client: Any, make: Any, db: Any, jobs: Any, inbox: Any) -> None:
    import json

    from sqlalchemy import select

    from kefu.conversations.models import Conversation
    from kefu.conversations.service import add_message
    from tests.channels.fakes import FakeApi

    hook = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        brand = make.brand()
        ib = inbox(brand, "api", {"secret": "s3cret-inbox", "callback_url": f"{hook.url}/kefu"})
        msg = {"id": "app-1", "user": {"id": "u-1"}, "text": "卡片掛失"}
        r = client.post(
            f"/api/v1/channels/api/{ib.id}/messages", json=msg, headers={"Authorization": "Bearer s3cret-inbox"}
        )
        assert r.status_code == 202
        assert jobs.drain()
        conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
        faq = _faq(db, brand)
        add_message(db, conv, sender_type="bot", body=faq.answer, meta={"faq_id": faq.id, "ask_feedback": True})
        db.commit()
        assert jobs.drain()
        text = json.loads(hook.requests[-1].body)["text"]
        assert (
            text
            == "掛失請撥 0800-000-123 或 線上掛失 (https://bank.example/lost)。\n1. 登入網銀\n2. 點選「卡片掛失」\n卡片 (https://cdn.bank.example/card.png)"
        )
    finally:
        hook.close()
