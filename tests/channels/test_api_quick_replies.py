"""API channel (issue #14 item 3/7): the callback JSON carries structured quick replies next to the numbered text;
a tapped option comes back as text (or a `kefu:qr:` postback) and picks that FAQ; a vote postback is recorded once,
for the user's own conversation, and an unhelpful one reaches the review queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.channels.fakes import FakeApi
from tests.channels.test_bot_channels import FEE, LOST, _kb, _review, registry  # noqa: F401 - fixture

SECRET = "s3cret-inbox"


def _callbacks(api: FakeApi) -> list[dict[str, Any]]:
    return [r.json() for r in api.requests if r.path == "/cb"]


def test_callback_quick_replies_pick_the_faq_and_votes_come_back_as_postbacks(
    client: Any,
    make: Any,
    db: Any,
    jobs: Any,
    inbox: Any,
    registry: Any,  # noqa: F811
) -> None:
    from kefu.bot.models import BotFeedback

    api = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        brand = make.brand()
        ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot", "callback_url": api.url + "/cb"})
        _kb(db, brand)
        url, auth = f"/api/v1/channels/api/{ib.id}/messages", {"Authorization": f"Bearer {SECRET}"}
        msg = {"id": "m1", "user": {"id": "u1"}, "text": "信用卡"}
        assert client.post(url, json=msg, headers=auth).status_code == 202
        assert jobs.drain()
        offer = _callbacks(api)[-1]
        # The numbered text stays the body (fallback for integrations that show text only) ...
        assert "1. " in offer["text"] and "2. " in offer["text"]
        # ... and the options arrive as structured quick replies (type, label, the text to send back).
        replies = offer["quick_replies"]
        assert [r["type"] for r in replies] == ["message", "message", "message"]
        assert {r["text"] for r in replies[:2]} == {LOST, FEE} and replies[2]["label"] == "真人客服"

        # The integration posts the tapped option as a postback: it reads as the option's full text.
        tapped = {"id": "m2", "user": {"id": "u1"}, "postback": f"kefu:qr:{FEE}"}
        assert client.post(url, json=tapped, headers=auth).status_code == 202
        assert jobs.drain()
        answer = _callbacks(api)[-1]
        assert answer["text"] == "首年免年費。"
        votes = answer["quick_replies"]
        assert [(v["type"], v["label"]) for v in votes] == [("postback", "👍 有幫助"), ("postback", "👎 沒幫助")]
        assert votes[1]["payload"].startswith("kefu:fb:") and votes[1]["payload"].endswith(":0")

        # Someone else's vote on this answer is ignored; the user's own is recorded once.
        stranger = {"id": "m3", "user": {"id": "u2"}, "postback": votes[0]["payload"]}
        assert client.post(url, json=stranger, headers=auth).status_code == 202
        mine = {"id": "m4", "user": {"id": "u1"}, "postback": votes[1]["payload"]}
        assert client.post(url, json=mine, headers=auth).status_code == 202
        again = {"id": "m5", "user": {"id": "u1"}, "postback": votes[0]["payload"]}
        assert client.post(url, json=again, headers=auth).status_code == 202
        assert jobs.drain()
        message_id = int(votes[1]["payload"].split(":")[2])
        (fb,) = db.scalars(select(BotFeedback).where(BotFeedback.message_id == message_id)).all()
        assert fb.helpful is False
        assert _review(db, brand)[-1] == ("unhelpful", FEE)
        # The votes produced no bot turn (no callback after the answer).
        assert _callbacks(api)[-1] == answer

        # A postback kefu did not issue is a malformed request, not a message.
        bad = {"id": "m6", "user": {"id": "u1"}, "postback": "delete-everything"}
        assert client.post(url, json=bad, headers=auth).status_code in (400, 422)
    finally:
        api.close()


def test_numbered_reply_still_works_on_the_api_channel(
    client: Any,
    make: Any,
    db: Any,
    jobs: Any,
    inbox: Any,
    registry: Any,  # noqa: F811
) -> None:
    api = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        brand = make.brand()
        ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot", "callback_url": api.url + "/cb"})
        _kb(db, brand)
        url, auth = f"/api/v1/channels/api/{ib.id}/messages", {"Authorization": f"Bearer {SECRET}"}
        assert (
            client.post(url, json={"id": "m1", "user": {"id": "u9"}, "text": "信用卡"}, headers=auth).status_code == 202
        )
        assert jobs.drain()
        lines = _callbacks(api)[-1]["text"].splitlines()
        first = lines[1][3:]
        assert client.post(url, json={"id": "m2", "user": {"id": "u9"}, "text": "1"}, headers=auth).status_code == 202
        assert jobs.drain()
        assert _callbacks(api)[-1]["text"] == ("首年免年費。" if first == FEE else "請撥 0800-000-123 掛失。")
    finally:
        api.close()
