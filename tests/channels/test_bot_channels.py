"""The real dialogue engine on every chat channel (issue #14): a close call offers the top FAQs as buttons (widget
buttons, LINE quick reply, Messenger quick replies, numbered text on the API channel), a tap picks that FAQ, the
answer carries "helpful / not helpful", and an unhelpful vote lands in the review queue."""

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
LOST, FEE = "信用卡遺失了怎麼辦", "信用卡年費怎麼算"


@pytest.fixture
def registry() -> Iterator[Any]:
    from kefu.bot.engine import INDEX_REGISTRY, IndexRegistry
    from kefu.core import runtime

    reg = IndexRegistry(factory=OverlapRetriever, check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


def _kb(db: Any, brand: Any) -> dict[str, Any]:
    from kefu.knowledge.service import create_faq

    # Every message is a close call (nothing reaches the answer threshold), so the bot offers options.
    brand.settings = {"bot": {"answer_threshold": 0.999, "clarify_threshold": 0.0}}
    faqs = {
        q: create_faq(db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", questions=[q], answer=a, intent=i))
        for q, a, i in ((LOST, "請撥 0800-000-123 掛失。", "lost"), (FEE, "首年免年費。", "fee"))
    }
    db.commit()
    return faqs


def _review(db: Any, brand: Any) -> list[tuple[str, str]]:
    from kefu.bot.models import BotReviewItem

    db.expire_all()
    return [(i.reason, i.text) for i in db.scalars(select(BotReviewItem).where(BotReviewItem.brand_id == brand.id))]


def test_widget_options_are_buttons_that_pick_the_faq_and_answers_take_votes(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, registry: Any
) -> None:
    brand = make.brand()
    ib = inbox(brand, "web_chat", {"initial_status": "bot"})
    _kb(db, brand)
    hv = {"X-Kefu-Visitor": client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]}
    assert client.post("/api/v1/widget/messages", json={"body": "信用卡"}, headers=hv).status_code == 201
    assert jobs.drain()
    offer = client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]
    buttons = offer["quick_replies"]
    assert {b["text"] for b in buttons[:2]} == {LOST, FEE} and buttons[2] == {"label": "真人客服", "text": "真人"}
    assert "1. " in offer["body"] and "2. " in offer["body"]  # the numbered text stays for other readers
    tapped = next(b for b in buttons if b["text"] == FEE)
    client.post("/api/v1/widget/messages", json={"body": tapped["text"]}, headers=hv)
    assert jobs.drain()
    answer = client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]
    assert answer["body"] == "首年免年費。" and answer["feedback"] == {"ask": True, "voted": None}
    r = client.post(f"/api/v1/widget/messages/{answer['id']}/feedback", json={"helpful": False}, headers=hv)
    assert r.status_code == 204
    assert _review(db, brand)[-1] == ("unhelpful", FEE)


def _line(client: Any, ib: Any, *events: dict[str, Any]) -> None:
    body = line_body(*events)
    r = client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(LINE_SECRET, body)},
    )
    assert r.status_code == 200, r.text


def _line_sent(api: Any) -> list[dict[str, Any]]:
    return [m for r in api.requests if r.body for m in json.loads(r.body).get("messages", [])]


def test_line_options_are_quick_replies_and_votes_reach_the_review_queue(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: Any, registry: Any
) -> None:
    brand = make.brand()
    cfg = {"channel_secret": LINE_SECRET, "channel_access_token": "tok", "api_base": line_api.url}
    ib = inbox(brand, "line", {**cfg, "initial_status": "bot"})
    _kb(db, brand)
    _line(client, ib, line_text("E1", "U1", "信用卡"))
    assert jobs.drain()
    offer = _line_sent(line_api)[-1]
    actions = [i["action"] for i in offer["quickReply"]["items"]]
    assert [a["type"] for a in actions] == ["message", "message", "message"]
    assert {a["text"] for a in actions[:2]} == {LOST, FEE} and all(len(a["label"]) <= 20 for a in actions)
    assert actions[2] == {"type": "message", "label": "真人客服", "text": "真人"}
    _line(client, ib, line_text("E2", "U1", LOST))  # what LINE sends when the customer taps that button
    assert jobs.drain()
    answer = _line_sent(line_api)[-1]
    assert answer["text"] == "請撥 0800-000-123 掛失。"
    votes = [i["action"] for i in answer["quickReply"]["items"]]
    assert [v["type"] for v in votes] == ["postback", "postback"]
    no = votes[1]["data"]
    assert no.endswith(":0")
    _line(
        client,
        ib,
        {
            "type": "postback",
            "timestamp": 1_700_000_001_000,
            "webhookEventId": "E3",
            "source": {"type": "user", "userId": "U1"},
            "replyToken": "rt-E3",
            "postback": {"data": no},
        },
    )
    assert jobs.drain()
    assert _review(db, brand)[-1] == ("unhelpful", LOST)


def test_messenger_options_are_quick_replies_and_votes_reach_the_review_queue(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: Any, registry: Any
) -> None:
    brand = make.brand()
    cfg = {"app_secret": APP_SECRET, "verify_token": "vt", "page_access_token": "pat", "api_base": messenger_api.url}
    ib = inbox(brand, "messenger", {**cfg, "initial_status": "bot"})
    _kb(db, brand)

    def post(mid: str, text: str, payload: str | None = None) -> None:
        m: dict[str, Any] = {"mid": mid, "text": text} | ({"quick_reply": {"payload": payload}} if payload else {})
        ev = {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000, "message": m}
        body = json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [ev]}]}).encode()
        r = client.post(
            f"/api/v1/channels/messenger/{ib.id}/webhook",
            content=body,
            headers={"X-Hub-Signature-256": hub_sign(APP_SECRET, body), "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert jobs.drain()

    def sent() -> list[dict[str, Any]]:
        return [json.loads(r.body)["message"] for r in messenger_api.requests if "/me/messages" in r.path]

    post("mid.1", "信用卡")
    replies = sent()[-1]["quick_replies"]
    assert {q["payload"] for q in replies[:2]} == {f"kefu:qr:{LOST}", f"kefu:qr:{FEE}"}
    assert replies[2] == {"content_type": "text", "title": "真人客服", "payload": "kefu:qr:真人"}
    post("mid.2", FEE[:20], f"kefu:qr:{FEE}")
    answer = sent()[-1]
    assert answer["text"] == "首年免年費。"
    no = answer["quick_replies"][1]
    assert no["title"] == "👎 沒幫助"
    post("mid.3", no["title"], no["payload"])
    assert _review(db, brand)[-1] == ("unhelpful", FEE)


def test_api_channel_gets_the_options_as_numbered_text(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, registry: Any
) -> None:
    from kefu.conversations.models import Message

    brand = make.brand()
    ib = inbox(brand, "api", {"secret": "s3cret-inbox", "initial_status": "bot"})
    _kb(db, brand)
    url, auth = f"/api/v1/channels/api/{ib.id}/messages", {"Authorization": "Bearer s3cret-inbox"}
    msg = {"id": "m1", "user": {"id": "u1"}, "text": "信用卡"}
    assert client.post(url, json={"messages": [msg]}, headers=auth).status_code == 202
    assert jobs.drain()
    offer = db.scalars(select(Message).where(Message.sender_type == "bot").order_by(Message.id.desc())).first()
    lines = offer.body.splitlines()
    assert lines[0] == "請問您想詢問的是：" and {lines[1][3:], lines[2][3:]} == {LOST, FEE}
    assert lines[-1] == "請回覆數字或點選問題。"
    assert client.post(url, json={"messages": [{**msg, "id": "m2", "text": "2"}]}, headers=auth).status_code == 202
    assert jobs.drain()
    db.expire_all()
    answer = db.scalars(select(Message).where(Message.sender_type == "bot").order_by(Message.id.desc())).first()
    assert answer.body == ("首年免年費。" if lines[2][3:] == FEE else "請撥 0800-000-123 掛失。")


@pytest.mark.parametrize(
    ("locale", "reply"), [("zh-CN", "抱歉，这个问题我暂时回答不了。"), ("zh-TW", "抱歉，這個問題我還無法回答。")]
)
def test_widget_language_decides_when_the_text_cannot(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, registry: Any, locale: str, reply: str
) -> None:
    """ "你好" is written the same in both scripts: the bot answers in the widget's language."""
    brand = make.brand()
    ib = inbox(brand, "web_chat", {"initial_status": "bot"})
    _kb(db, brand)
    brand.settings = {"bot": {"answer_threshold": 0.9999, "clarify_threshold": 0.9999}}
    db.commit()
    s = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "locale": locale}).json()
    assert s["locale"] == locale
    hv = {"X-Kefu-Visitor": s["visitor_token"]}
    r = client.post("/api/v1/widget/messages", json={"body": "你好", "locale": locale}, headers=hv)
    assert r.status_code == 201
    assert jobs.drain()
    last = client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]
    assert last["body"].startswith(reply), last
    bad = client.post("/api/v1/widget/messages", json={"body": "x", "locale": "fr"}, headers=hv)
    assert bad.status_code == 422
