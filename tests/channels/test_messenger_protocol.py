"""Tests for the Messenger protocol layer (kefu.channels.messenger.protocol)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from kefu.channels.messenger import (
    MessengerClient,
    MessengerPermanentError,
    MessengerRetryableError,
    parse_webhook,
    verify_challenge,
    verify_signature,
)
from kefu.channels.types import InvalidPayloadError, PermanentSendError, RetryableSendError
from tests.channels.stub_http import Canned
from tests.channels.stub_http import StubServer as _StubServer

APP_SECRET = "0123456789abcdef0123456789abcdef"
PAGE_TOKEN = "EAAB-test-page-token"
PAGE_ID = "106252408412345"
PSID = "6789012345678901"
SEND_PATH = "/v21.0/me/messages"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------
# local HTTP stub speaking the Graph API's JSON shapes
# ---------------------------------------------------------------------------


class StubServer(_StubServer):
    """Graph API flavour of the stub: its 404 body."""

    not_found = Canned(404, b'{"error":{"message":"Unknown path","code":803}}', {"Content-Type": "application/json"})


@pytest.fixture
def graph() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def client(graph: StubServer) -> Iterator[MessengerClient]:
    with MessengerClient(PAGE_TOKEN, api_base=graph.base_url, timeout=2.0) as c:
        yield c


def graph_error(code: int, message: str, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


# ---------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------


class TestVerifyChallenge:
    def test_ok(self) -> None:
        params = {"hub.mode": "subscribe", "hub.verify_token": "my-verify", "hub.challenge": "1158201444"}
        assert verify_challenge(params, "my-verify") == "1158201444"

    def test_parse_qs_lists(self) -> None:
        params = parse_qs("hub.mode=subscribe&hub.verify_token=my-verify&hub.challenge=CHALLENGE_ACCEPTED")
        assert verify_challenge(params, "my-verify") == "CHALLENGE_ACCEPTED"

    @pytest.mark.parametrize(
        ("params", "token"),
        [
            ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, "my-verify"),
            ({"hub.mode": "unsubscribe", "hub.verify_token": "my-verify", "hub.challenge": "1"}, "my-verify"),
            ({"hub.mode": "subscribe", "hub.verify_token": "my-verify"}, "my-verify"),
            ({"hub.mode": "subscribe", "hub.challenge": "1"}, "my-verify"),
            ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, ""),
            ({}, "my-verify"),
        ],
    )
    def test_rejected(self, params: dict[str, str], token: str) -> None:
        assert verify_challenge(params, token) is None


class TestSignature:
    def test_valid(self) -> None:
        body = b'{"object":"page","entry":[]}'
        assert verify_signature(APP_SECRET, body, sign(body))
        assert verify_signature(APP_SECRET, body, sign(body).upper().replace("SHA256=", "sha256="))

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "sha256=",
            "deadbeef",
            "sha1=" + hashlib.sha1(b"x").hexdigest(),
            "sha256=" + "0" * 64,
            "sha256=签名",
        ],
    )
    def test_rejected(self, header: str | None) -> None:
        assert not verify_signature(APP_SECRET, b'{"object":"page","entry":[]}', header)

    def test_tampered_body_and_wrong_secret(self) -> None:
        body = b'{"object":"page","entry":[]}'
        assert not verify_signature(APP_SECRET, body + b" ", sign(body))
        assert not verify_signature(APP_SECRET, body, sign(body, "other-secret"))
        assert not verify_signature("", body, sign(body, ""))


# ---------------------------------------------------------------------------
# webhook parsing
# ---------------------------------------------------------------------------


def _event(**kind: Any) -> dict[str, Any]:
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1704160800000, **kind}


def _body(*events: dict[str, Any], obj: str = "page") -> bytes:
    entry = {"id": PAGE_ID, "time": 1704160800123, "messaging": list(events)}
    return json.dumps({"object": obj, "entry": [entry]}, ensure_ascii=False).encode()


EVENTS = [
    _event(message={"mid": "m_text", "text": "你好，請問營業時間？"}),
    _event(message={"mid": "m_qr", "text": "紅色", "quick_reply": {"payload": "COLOR_RED"}}),
    _event(
        message={
            "mid": "m_att",
            "attachments": [
                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1/photo_123.jpg?_nc=1"}},
                {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/t59/%E5%A0%B1%E5%83%B9.pdf?x=1"}},
                {"type": "video", "payload": {"url": "https://video.xx.fbcdn.net/v/clip"}},
                {"type": "audio", "payload": {"url": "https://cdn.fbsbx.com/v/audioclip-1.mp4"}},
            ],
        }
    ),
    _event(
        message={
            "mid": "m_sticker",
            "sticker_id": 369239263222822,
            "attachments": [
                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/sticker.png", "sticker_id": 1}}
            ],
        }
    ),
    _event(
        message={
            "mid": "m_reply",
            "text": "就是這個",
            "reply_to": {"mid": "m_earlier"},
        }
    ),
    _event(message={"mid": "m_echo", "is_echo": True, "app_id": 1517776481860111, "text": "our own reply"}),
    _event(postback={"mid": "m_pb", "title": "開始使用", "payload": "GET_STARTED"}),
    _event(read={"watermark": 1704160799000}),
    _event(delivery={"mids": ["m_out_1"], "watermark": 1704160799500}),
    _event(reaction={"mid": "m_out_1", "action": "react", "reaction": "love", "emoji": "❤"}),
]


class TestParseWebhook:
    def test_all_event_kinds(self) -> None:
        events = parse_webhook(_body(*EVENTS))
        assert [e.event_type for e in events] == [
            "message",
            "message",
            "message",
            "sticker",
            "message",
            "postback",
            "read",
            "delivery",
            "reaction",
        ]
        assert all(e.channel == "messenger" for e in events)
        assert all(e.sender_external_id == PSID for e in events)
        assert all(e.sent_at == datetime(2024, 1, 2, 2, 0, tzinfo=UTC) for e in events)
        assert all(e.reply_token is None for e in events)
        text, quick, attachments, sticker, reply, postback, read, delivery, reaction = events

        assert text.provider_message_id == "m_text"
        assert text.text == "你好，請問營業時間？"
        assert text.thread_keys == (f"psid:{PSID}",)

        assert quick.text == "紅色"
        assert quick.raw["message"]["quick_reply"]["payload"] == "COLOR_RED"

        image, file_, video, audio = attachments.attachments
        assert (image.filename, image.content_type, image.url) == (
            "photo_123.jpg",
            "image/jpeg",
            "https://scontent.xx.fbcdn.net/v/t1/photo_123.jpg?_nc=1",
        )
        assert file_.content_type == "application/pdf"
        assert video.content_type == "video/mp4" and video.filename == "clip"
        assert audio.content_type == "audio/mp4"
        assert attachments.text == ""

        assert sticker.attachments == ()
        assert sticker.raw["message"]["sticker_id"] == 369239263222822

        assert reply.thread_keys == (f"psid:{PSID}", "m_earlier")

        assert postback.provider_message_id == "m_pb"
        assert postback.text == "開始使用"
        assert postback.raw["postback"]["payload"] == "GET_STARTED"

        assert read.provider_message_id == f"read:{PSID}:1704160799000"
        assert delivery.provider_message_id == f"delivery:{PSID}:1704160799500"
        assert delivery.raw["delivery"]["mids"] == ["m_out_1"]
        assert reaction.text == "❤"
        assert reaction.provider_message_id.startswith("reaction:m_out_1:react:")

    def test_echo_is_skipped(self) -> None:
        assert parse_webhook(_body(EVENTS[5])) == []

    def test_location_and_fallback_become_text(self) -> None:
        event = _event(
            message={
                "mid": "m_loc",
                "attachments": [
                    {"type": "location", "title": "Pinned", "payload": {"coordinates": {"lat": 25.03, "long": 121.56}}},
                    {"type": "fallback", "title": "Order page", "url": "https://shop.example/o/1", "payload": None},
                ],
            }
        )
        [parsed] = parse_webhook(_body(event))
        assert parsed.text == "Pinned (25.03, 121.56)\nOrder page https://shop.example/o/1"
        assert parsed.attachments == ()

    def test_multiple_entries_and_batched_events(self) -> None:
        payload = {
            "object": "page",
            "entry": [
                {"id": PAGE_ID, "time": 1, "messaging": [EVENTS[0], EVENTS[1]]},
                {"id": PAGE_ID, "time": 2, "messaging": [EVENTS[6]]},
                {"id": PAGE_ID, "time": 3, "standby": [EVENTS[0]]},
            ],
        }
        parsed = parse_webhook(json.dumps(payload).encode())
        assert [p.provider_message_id for p in parsed] == ["m_text", "m_qr", "m_pb"]

    def test_postback_without_mid_gets_stable_id(self) -> None:
        event = _event(postback={"title": "Menu", "payload": "MENU"})
        first = parse_webhook(_body(event))[0].provider_message_id
        assert first.startswith("postback:sha256:")
        assert parse_webhook(_body(event))[0].provider_message_id == first

    def test_other_objects_ignored(self) -> None:
        assert parse_webhook(_body(EVENTS[0], obj="instagram")) == []

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"nope",
            b"[]",
            b'{"object":"page"}',
            b'{"object":"page","entry":[1]}',
            b'{"object":"page","entry":[{"messaging":[1]}]}',
        ],
    )
    def test_invalid(self, body: bytes) -> None:
        with pytest.raises(InvalidPayloadError):
            parse_webhook(body)


# ---------------------------------------------------------------------------
# client against a real local HTTP server
# ---------------------------------------------------------------------------


class TestClient:
    def test_send_text(self, client: MessengerClient, graph: StubServer) -> None:
        graph.add("POST", SEND_PATH, json_body={"recipient_id": PSID, "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM"})
        result = client.send_text(PSID, "您好，我們的營業時間是 9:00-18:00。")
        assert result.recipient_id == PSID
        assert result.message_id == "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM"
        [req] = graph.requests
        assert req.method == "POST"
        assert req.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
        assert req.headers["content-type"] == "application/json"
        assert "access_token" not in req.query
        assert req.json() == {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "您好，我們的營業時間是 9:00-18:00。"},
        }

    def test_message_tag_and_appsecret_proof(self, graph: StubServer) -> None:
        graph.add("POST", "/v19.0/me/messages", json_body={"recipient_id": PSID, "message_id": "m_2"})
        with MessengerClient(
            PAGE_TOKEN, api_base=graph.base_url + "/", api_version="v19.0", app_secret=APP_SECRET
        ) as c:
            c.send_text(PSID, "Your ticket was updated", "MESSAGE_TAG", tag="ACCOUNT_UPDATE")
        [req] = graph.requests
        expected_proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
        assert req.query["appsecret_proof"] == [expected_proof]
        assert req.json()["tag"] == "ACCOUNT_UPDATE"
        assert req.json()["messaging_type"] == "MESSAGE_TAG"

    def test_send_message_with_quick_replies(self, client: MessengerClient, graph: StubServer) -> None:
        graph.add("POST", SEND_PATH, json_body={"recipient_id": PSID, "message_id": "m_3"})
        message = {"text": "Pick one", "quick_replies": [{"content_type": "text", "title": "Red", "payload": "R"}]}
        client.send_message(PSID, message, "UPDATE")
        assert graph.requests[0].json()["message"] == message
        assert graph.requests[0].json()["messaging_type"] == "UPDATE"

    @pytest.mark.parametrize(
        ("status", "body", "retryable", "code"),
        [
            (500, graph_error(2, "An unexpected error has occurred. Please retry your request later."), True, 2),
            (503, {}, True, None),
            (429, graph_error(4, "Application request limit reached"), True, 4),
            (400, graph_error(613, "Calls to this api have exceeded the rate limit."), True, 613),
            (400, graph_error(32, "Page request limit reached"), True, 32),
            (400, graph_error(100, "Some transient thing", is_transient=True), True, 100),
            (400, graph_error(100, "(#100) The parameter recipient is required"), False, 100),
            (400, graph_error(10, "This message is sent outside of allowed window.", 2018278), False, 10),
            (400, graph_error(551, "This person isn't available right now.", 1545041), False, 551),
            (401, graph_error(190, "Invalid OAuth access token."), False, 190),
            (400, graph_error(2, "Privacy ToS not accepted", 2018344), False, 2),
            (403, {"unexpected": "shape"}, False, None),
        ],
    )
    def test_error_classification(
        self,
        client: MessengerClient,
        graph: StubServer,
        status: int,
        body: dict[str, Any],
        retryable: bool,
        code: int | None,
    ) -> None:
        graph.add("POST", SEND_PATH, status=status, json_body=body)
        expected = MessengerRetryableError if retryable else MessengerPermanentError
        with pytest.raises(expected) as info:
            client.send_text(PSID, "hi")
        err = info.value
        assert err.retryable is retryable
        assert isinstance(err, RetryableSendError if retryable else PermanentSendError)
        assert err.status_code == status
        assert err.error_code == code
        if code is not None:
            assert err.fbtrace_id == "AbC123"
            assert err.provider_code == str(code)

    def test_retry_after_header(self, client: MessengerClient, graph: StubServer) -> None:
        graph.add("POST", SEND_PATH, status=429, json_body=graph_error(613, "slow down"), headers={"Retry-After": "7"})
        with pytest.raises(MessengerRetryableError) as info:
            client.send_text(PSID, "hi")
        assert info.value.retry_after == 7.0
        assert info.value.error_subcode is None

    def test_network_error_is_retryable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setenv("KEFU_OUTBOUND_ALLOW", f"127.0.0.1:{port}")  # allowed, but nothing listens
        sock.close()
        with (
            MessengerClient(PAGE_TOKEN, api_base=f"http://127.0.0.1:{port}") as c,
            pytest.raises(MessengerRetryableError),
        ):
            c.send_text(PSID, "hi")

    def test_timeout_is_retryable(self, graph: StubServer) -> None:
        graph.add("POST", SEND_PATH, json_body={}, delay=1.0)
        with (
            MessengerClient(PAGE_TOKEN, api_base=graph.base_url, timeout=0.2) as c,
            pytest.raises(MessengerRetryableError),
        ):
            c.send_text(PSID, "hi")

    def test_non_json_success_is_permanent(self, client: MessengerClient, graph: StubServer) -> None:
        graph.add("POST", SEND_PATH, body=b"<html>proxy</html>")
        with pytest.raises(MessengerPermanentError):
            client.send_text(PSID, "hi")

    def test_get_profile(self, client: MessengerClient, graph: StubServer) -> None:
        graph.add(
            "GET",
            f"/v21.0/{PSID}",
            json_body={"first_name": "小明", "last_name": "王", "profile_pic": "https://x/p.jpg", "id": PSID},
        )
        profile = client.get_profile(PSID)
        assert profile.name == "小明 王"
        assert profile.profile_pic == "https://x/p.jpg"
        assert graph.requests[0].query["fields"] == ["first_name,last_name,profile_pic"]

    @pytest.mark.parametrize(
        ("text", "messaging_type", "tag", "match"),
        [
            ("", "RESPONSE", None, "1-2000"),
            ("x" * 2001, "RESPONSE", None, "1-2000"),
            ("hi", "PROMO", None, "messaging_type"),
            ("hi", "MESSAGE_TAG", None, "tag"),
            ("hi", "RESPONSE", "ACCOUNT_UPDATE", "tag"),
        ],
    )
    def test_validation(
        self, client: MessengerClient, graph: StubServer, text: str, messaging_type: str, tag: str | None, match: str
    ) -> None:
        with pytest.raises(ValueError, match=match):
            client.send_text(PSID, text, messaging_type, tag=tag)
        assert graph.requests == []

    def test_token_required(self) -> None:
        with pytest.raises(ValueError):
            MessengerClient("")
