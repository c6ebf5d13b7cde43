"""Blind and low-vision customers (#17, seed 003 視障用戶服務): plain-text email, widget notices that vibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kefu.conversations.commands import CreateConversation
from tests.channels.servers import upstream  # noqa: F401 - SMTP fixture
from tests.channels.test_rich_answers import _faq


def _declare(db: Any, customer: Any, need: str) -> None:
    from kefu.customers.accessibility import DeclareNeeds, declare

    declare(db, customer, DeclareNeeds(needs=[need], consent=True), None, source="portal")  # type: ignore[list-item]
    db.commit()


def test_low_vision_customers_get_plain_text_email_only(
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
    customer, _ = find_or_create_by_identity(db, brand.id, "email", "lin@example.com", "Lin")
    _declare(db, customer, "low_vision")
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
    assert mail.get_body(preferencelist=("html",)) is None
    assert "線上掛失 (https://bank.example/lost)" in mail.get_body(preferencelist=("plain",)).get_content()


def test_widget_notices_are_flagged_and_vibrate_only_for_low_vision_customers(make: Any, db: Any) -> None:
    from kefu.channels.web_chat.service import public_messages
    from kefu.conversations.service import add_message, create_conversation

    brand = make.brand()
    rows = []
    for need in ("low_vision", None):
        customer = make.customer(brand, name="訪客")
        if need:
            _declare(db, customer, need)
        conv = create_conversation(
            db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="web_chat"), actor=None
        )
        notice, _ = add_message(db, conv, sender_type="bot", body="您的案件已處理完成", meta={"notice": "status"})
        plain, _ = add_message(db, conv, sender_type="bot", body="您好")
        rows += [notice, plain]
    db.commit()
    out = public_messages(db, rows)
    assert [(m.get("notice"), m.get("haptic")) for m in out] == [
        (True, True),
        (None, None),
        (True, False),
        (None, None),
    ]
    script = (Path(__file__).parents[2] / "src/kefu/channels/web_chat/static/widget.js").read_text("utf-8")
    assert 'role: "alert"' in script and "navigator.vibrate" in script and "m.haptic" in script


def test_a_visitor_declares_needs_in_the_widget_with_consent(client: Any, make: Any, db: Any, inbox: Any) -> None:
    from kefu.customers.accessibility import needs_of
    from kefu.customers.models import CustomerIdentity

    brand = make.brand()
    ib = inbox(brand, "web_chat", {})
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    hdr = {"X-Kefu-Visitor": token}
    assert client.put("/api/v1/widget/accessibility", json={"needs": ["low_vision"]}).status_code == 401
    assert client.put("/api/v1/widget/accessibility", json={"needs": ["low_vision"]}, headers=hdr).status_code == 422
    r = client.put("/api/v1/widget/accessibility", json={"needs": ["low_vision"], "consent": True}, headers=hdr)
    assert r.status_code == 200 and r.json() == {"needs": ["low_vision"], "haptic_notices": True}, r.text
    who = db.query(CustomerIdentity).filter_by(brand_id=brand.id, kind="web").one()
    assert needs_of(db, who.customer_id) == ["low_vision"]


def test_the_widget_offers_an_accessible_needs_form_that_saves_with_consent(client: Any) -> None:
    """The served widget carries the needs form: its texts in three locales, labels, consent, a polite status line."""
    import json
    import re

    from kefu.customers.models import NEEDS

    js = client.get("/api/v1/widget/widget.js").text
    strings = json.loads(re.search(r"var STR = (\{.*?\});\n", js).group(1))  # type: ignore[union-attr]
    keys = {"a11y", "a11yDeaf", "a11yHoh", "a11yBlind", "a11yLow", "a11yConsent", "a11yHint", "a11ySave", "a11ySaved"}
    for loc, title in (("zh-TW", "無障礙需求"), ("zh-CN", "无障碍需求"), ("en", "Accessibility needs")):
        assert strings[loc]["a11y"] == title and keys | {"a11yFailed"} <= set(strings[loc])
    assert all(f"t.{k}" in js for k in keys)
    assert all(f'["{need}", t.' in js for need in NEEDS)  # every need the API knows has its checkbox
    # Opened from a header button that says what it controls; a form of labelled checkboxes in a fieldset.
    assert '"aria-expanded": "false", "aria-controls": "kefu-a11y"' in js and 'id: "kefu-a11y"' in js
    assert 'el("legend"' in js and 'el("label"' in js and 'type: "checkbox"' in js
    # Saved through the visitor's own endpoint, with the consent the API requires; the result is announced.
    assert 'fetch(base + "/api/v1/widget/accessibility"' in js and 'method: "PUT"' in js
    assert "consent: consent.checked" in js and "consent.required = true" in js
    assert 'role: "status", "aria-live": "polite"' in js and "t.a11ySaved" in js and "t.a11yFailed" in js
    css = client.get("/api/v1/widget/widget.css").text
    assert ".kefu-a11y" in css
