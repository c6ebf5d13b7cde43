"""Customer-facing buttons on bot messages: widget quick replies and votes, LINE quick-reply/postback items,
Messenger quick replies; votes only by the conversation's own customer, once per answer, unhelpful → review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kefu.knowledge.commands import CreateFaq
from tests.bot.test_bot_service import OverlapRetriever
from tests.channels.conftest import hub_sign, line_body, line_sign, line_text

LINE_SECRET = "line-secret"
APP_SECRET = "app-secret"
QUICK = [{"label": "信用卡掛失", "text": "我的信用卡遺失了要怎麼掛失"}, {"label": "轉真人", "text": "我要找真人客服"}]


@pytest.fixture
def registry() -> Iterator[Any]:
    from kefu.bot.engine import INDEX_REGISTRY, IndexRegistry
    from kefu.core import runtime

    reg = IndexRegistry(factory=OverlapRetriever, check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


def _faq(
    db: Any, brand: Any, answer: str = "請撥 **0800-000-123** 或到 [網路銀行](https://bank.example/lost) 掛失。"
) -> Any:
    from kefu.knowledge.service import create_faq

    faq = create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            questions=["信用卡遺失怎麼辦"],
            answer=answer,
            answer_format="markdown",
            intent="card_lost",
        ),
    )
    db.commit()
    return faq


def _bot_says(db: Any, conv: Any, faq: Any | None, *, quick: bool = False) -> Any:
    """A bot message following the bot's contract (faq_id + ask_feedback on answers, quick_replies on clarify)."""
    from kefu.conversations.service import add_message

    meta: dict[str, Any] = {"quick_replies": QUICK, "clarify": [1, 2]} if quick else {}
    if faq is not None:
        meta.update(faq_id=faq.id, ask_feedback=True)
    body = faq.answer if faq is not None else "請問您是指：\n1. 信用卡掛失\n2. 轉真人"
    msg, _ = add_message(db, conv, sender_type="bot", body=body, meta=meta)
    db.commit()
    return msg


def test_widget_answer_renders_rich_and_votes_once_per_visitor(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, registry: Any
) -> None:
    from kefu.bot.models import BotFeedback, BotReviewItem
    from kefu.conversations.models import Message

    brand = make.brand()
    ib = inbox(brand, "web_chat", {"initial_status": "bot"})
    faq = _faq(db, brand)
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    hv = {"X-Kefu-Visitor": token}
    assert client.post("/api/v1/widget/messages", json={"body": "信用卡遺失怎麼辦"}, headers=hv).status_code == 201
    assert jobs.drain()
    items = client.get("/api/v1/widget/messages", headers=hv).json()["items"]
    answer = items[-1]
    assert answer["sender_type"] == "bot" and answer["feedback"] == {"ask": True, "voted": None}
    assert "<strong>0800-000-123</strong>" in answer["html"]
    assert '<a href="https://bank.example/lost" target="_blank" rel="noopener noreferrer nofollow">' in answer["html"]
    assert "feedback" not in items[0] and "html" not in items[0]  # the customer's own message

    # Another visitor of the same inbox cannot vote on it; nor can anyone without a token.
    other = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    url = f"/api/v1/widget/messages/{answer['id']}/feedback"
    assert client.post(url, json={"helpful": True}, headers={"X-Kefu-Visitor": other}).status_code == 404
    assert client.post(url, json={"helpful": True}).status_code == 401
    # A customer message is not votable.
    assert (
        client.post(
            f"/api/v1/widget/messages/{items[0]['id']}/feedback", json={"helpful": True}, headers=hv
        ).status_code
        == 404
    )

    r = client.post(url, json={"helpful": False}, headers=hv)
    assert r.status_code == 204
    again = client.post(url, json={"helpful": True}, headers=hv)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    fb = db.scalars(select(BotFeedback).where(BotFeedback.message_id == answer["id"])).one()
    assert fb.helpful is False and fb.faq_id == faq.id
    review = db.scalars(select(BotReviewItem).where(BotReviewItem.brand_id == brand.id)).all()
    assert [(i.reason, i.text) for i in review] == [("unhelpful", "信用卡遺失怎麼辦")]
    assert client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]["feedback"]["voted"] is False
    # Quick replies of a clarify message reach the widget as buttons; the body keeps the numbered text.
    conv_id = answer["conversation_id"]
    from kefu.conversations.models import Conversation

    msg = _bot_says(db, db.get(Conversation, conv_id), None, quick=True)
    last = client.get("/api/v1/widget/messages", params={"after_id": answer["id"]}, headers=hv).json()["items"][-1]
    assert last["id"] == msg.id and last["quick_replies"] == QUICK and "1. 信用卡掛失" in last["body"]
    assert "feedback" not in last
    assert db.get(Message, msg.id).meta["quick_replies"] == QUICK


def _line_conv(client: Any, db: Any, jobs: Any, inbox: Any, brand: Any, api: Any) -> tuple[Any, Any]:
    from kefu.conversations.models import Conversation

    ib = inbox(brand, "line", {"channel_secret": LINE_SECRET, "channel_access_token": "tok", "api_base": api.url})
    body = line_body(line_text("EV1", "U1", "信用卡不見了"))
    assert client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(LINE_SECRET, body)},
    ).json() == {"accepted": 1}
    assert jobs.drain()
    return ib, db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()


def _line_postback(client: Any, ib: Any, event_id: str, user: str, data: str) -> Any:
    ev = {
        "type": "postback",
        "timestamp": 1_700_000_001_000,
        "webhookEventId": event_id,
        "source": {"type": "user", "userId": user},
        "replyToken": f"rt-{event_id}",
        "postback": {"data": data},
    }
    body = line_body(ev)
    return client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(LINE_SECRET, body)},
    )


def test_line_plain_text_quick_reply_items_and_postback_votes(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: Any
) -> None:
    from kefu.bot.models import BotFeedback
    from kefu.conversations.models import Message

    brand = make.brand()
    ib, conv = _line_conv(client, db, jobs, inbox, brand, line_api)
    faq = _faq(db, brand)
    line_api.requests.clear()
    answer = _bot_says(db, conv, faq)
    assert jobs.drain()
    sent = line_api.requests[-1].json()["messages"]
    assert sent[0]["text"] == "請撥 0800-000-123 或到 網路銀行 (https://bank.example/lost) 掛失。"
    items = sent[-1]["quickReply"]["items"]
    assert [i["action"]["type"] for i in items] == ["postback", "postback"]
    assert items[0]["action"] == {
        "type": "postback", "label": "👍 有幫助", "data": f"kefu:fb:{answer.id}:1", "displayText": "👍 有幫助",
    }  # fmt: skip
    clarify = _bot_says(db, conv, None, quick=True)
    assert jobs.drain()
    items = line_api.requests[-1].json()["messages"][-1]["quickReply"]["items"]
    assert [i["action"] for i in items] == [
        {"type": "message", "label": "信用卡掛失", "text": "我的信用卡遺失了要怎麼掛失"},
        {"type": "message", "label": "轉真人", "text": "我要找真人客服"},
    ]
    assert db.get(Message, clarify.id).body.startswith("請問您是指")

    # Postback vote from the customer: recorded once, no customer message for the bot to answer.
    before = db.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    assert _line_postback(client, ib, "PB1", "U1", f"kefu:fb:{answer.id}:1").status_code == 200
    assert jobs.drain()
    assert _line_postback(client, ib, "PB2", "U1", f"kefu:fb:{answer.id}:0").status_code == 200  # a second tap
    assert jobs.drain()
    fb = db.scalars(select(BotFeedback).where(BotFeedback.message_id == answer.id)).one()
    assert fb.helpful is True
    assert db.scalar(select(Message.id).order_by(Message.id.desc()).limit(1)) == before
    # Someone else (their own chat) cannot vote on this conversation's answer.
    _line_postback(client, ib, "PB3", "U2", f"kefu:fb:{clarify.id}:1")
    assert jobs.drain()
    assert db.scalar(select(BotFeedback).where(BotFeedback.message_id == clarify.id)) is None


def test_messenger_quick_replies_carry_option_text_and_votes(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: Any
) -> None:
    from kefu.bot.models import BotFeedback
    from kefu.conversations.models import Conversation, Message

    brand = make.brand()
    ib = inbox(
        brand,
        "messenger",
        {"app_secret": APP_SECRET, "verify_token": "vt", "page_access_token": "pat", "api_base": messenger_api.url},
    )

    def post(*events: dict[str, Any]) -> Any:
        body = json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": list(events)}]}).encode()
        return client.post(
            f"/api/v1/channels/messenger/{ib.id}/webhook",
            content=body,
            headers={"X-Hub-Signature-256": hub_sign(APP_SECRET, body), "Content-Type": "application/json"},
        )

    def msg(mid: str, text: str, payload: str | None = None, psid: str = "PSID1") -> dict[str, Any]:
        m: dict[str, Any] = {"mid": mid, "text": text}
        if payload:
            m["quick_reply"] = {"payload": payload}
        return {"sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000, "message": m}

    assert post(msg("mid.1", "卡片不見")).json() == {"accepted": 1}
    assert jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    faq = _faq(
        db, brand, answer='<p>請見 <a href="https://bank.example/lost">掛失說明</a></p><ul><li>24 小時</li></ul>'
    )
    db.get(type(faq), faq.id).answer_format = "html"
    db.commit()
    messenger_api.requests.clear()
    answer = _bot_says(db, conv, faq)
    clarify = _bot_says(db, conv, None, quick=True)
    assert jobs.drain()
    sent = [r.json()["message"] for r in messenger_api.requests if "/me/messages" in r.path]
    assert sent[0]["text"] == "請見 掛失說明 (https://bank.example/lost)\n• 24 小時"
    assert sent[0]["quick_replies"] == [
        {"content_type": "text", "title": "👍 有幫助", "payload": f"kefu:fb:{answer.id}:1"},
        {"content_type": "text", "title": "👎 沒幫助", "payload": f"kefu:fb:{answer.id}:0"},
    ]
    assert sent[1]["quick_replies"][0] == {
        "content_type": "text", "title": "信用卡掛失", "payload": "kefu:qr:我的信用卡遺失了要怎麼掛失",
    }  # fmt: skip
    # Tapping an option: the customer's message is the option's full text (the title may be cut to 20 chars).
    post(msg("mid.2", "信用卡掛失", "kefu:qr:我的信用卡遺失了要怎麼掛失"))
    assert jobs.drain()
    assert db.scalar(select(Message.body).where(Message.provider_message_id == "mid.2")) == "我的信用卡遺失了要怎麼掛失"
    # Tapping a vote records it and adds no message; a stranger's forged payload is ignored.
    post(msg("mid.3", "👎 沒幫助", f"kefu:fb:{answer.id}:0"), msg("mid.4", "x", f"kefu:fb:{answer.id}:1", psid="PSID9"))
    assert jobs.drain()
    fb = db.scalars(select(BotFeedback).where(BotFeedback.message_id == answer.id)).one()
    assert fb.helpful is False
    assert db.scalar(select(Message.id).where(Message.provider_message_id == "mid.3")) is None
    assert clarify.id


def test_widget_history_query_count_does_not_grow_with_answers(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, engine: Any
) -> None:
    from sqlalchemy import event

    from kefu.conversations.models import Conversation

    brand = make.brand()
    ib = inbox(brand, "web_chat")
    faq = _faq(db, brand)
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    hv = {"X-Kefu-Visitor": token}
    client.post("/api/v1/widget/messages", json={"body": "你好"}, headers=hv)
    assert jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    counts = []
    for n in (2, 20):
        for _ in range(n - len(counts) * 2):
            _bot_says(db, conv, faq)
            _bot_says(db, conv, None, quick=True)
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            items = client.get("/api/v1/widget/messages", headers=hv).json()["items"]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert sum(1 for i in items if i.get("feedback")) >= n - 1
        counts.append(len(seen))
    assert counts[0] == counts[1], counts  # formats and votes are fetched in one query each, whatever the length
