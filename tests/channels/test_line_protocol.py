"""Tests for the LINE protocol layer (kefu.channels.line.protocol)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from linebot.v3.webhook import SignatureValidator, WebhookParser

from kefu.channels.line import (
    LineClient,
    LinePermanentError,
    LineRetryableError,
    is_redelivery,
    parse_webhook,
    text_message,
    verify_signature,
)
from kefu.channels.types import (
    Attachment,
    InvalidPayloadError,
    PermanentSendError,
    RetryableSendError,
)
from tests.channels.stub_http import StubServer

SECRET = "8c3f2e1d0b9a8c7d6e5f4a3b2c1d0e9f"
TOKEN = "test-channel-access-token"
USER = "U4af4980629c0a8b1a2b3c4d5e6f70001"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"
DEST = "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------------------
# local HTTP stub speaking LINE's JSON shapes
# ---------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def data_api() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def client(api: StubServer, data_api: StubServer) -> Iterator[LineClient]:
    with LineClient(TOKEN, api_base=api.base_url, data_api_base=data_api.base_url, timeout=2.0) as c:
        yield c


# ---------------------------------------------------------------------------
# signature
# ---------------------------------------------------------------------------


def _payload(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": DEST, "events": list(events)}, ensure_ascii=False).encode()


def _base(kind: str, event_id: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": 1704160800000,
        "source": {"type": "user", "userId": USER},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
    }
    event.update(extra)
    return event


class TestSignature:
    def test_valid_signature(self) -> None:
        body = _payload(_base("follow", "01HZ0000000000000000000001", replyToken="r", follow={"isUnblocked": False}))
        assert verify_signature(SECRET, body, sign(body))

    def test_matches_line_sdk(self) -> None:
        body = '{"events":[],"destination":"中文"}'.encode()
        signature = sign(body)
        assert verify_signature(SECRET, body, signature)
        assert SignatureValidator(SECRET).validate(body.decode(), signature)

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda body, sig: (body + b" ", sig),
            lambda body, sig: (body, sign(body, "another-secret")),
            lambda body, sig: (body, sig[:-2] + "AA"),
            lambda body, sig: (body, ""),
            lambda body, sig: (body, "簽名"),
            lambda body, sig: (body, base64.b64encode(hashlib.sha256(body).digest()).decode()),
        ],
    )
    def test_rejected(self, mutate: Any) -> None:
        body = _payload()
        tampered_body, tampered_sig = mutate(body, sign(body))
        assert not verify_signature(SECRET, tampered_body, tampered_sig)

    def test_empty_secret_or_missing_header(self) -> None:
        body = _payload()
        assert not verify_signature("", body, sign(body, ""))
        assert not verify_signature(SECRET, body, None)

    def test_signature_is_over_raw_bytes(self) -> None:
        # Re-serializing JSON changes bytes (spacing, escaping); the raw body must be used.
        body = b'{"destination": "x",  "events": [{"type":"unfollow","webhookEventId":"e"}]}'
        reserialized = json.dumps(json.loads(body)).encode()
        assert verify_signature(SECRET, body, sign(body))
        assert not verify_signature(SECRET, reserialized, sign(body))


# ---------------------------------------------------------------------------
# webhook parsing
# ---------------------------------------------------------------------------

ALL_EVENTS = [
    _base(
        "message",
        "01HZ00000000000000000TEXT1",
        replyToken="rt-text",
        message={
            "id": "468789577898262530",
            "type": "text",
            "text": "你好，我想查詢訂單 (emoji)",
            "quoteToken": "q3Plxr4AgKd...",
            "quotedMessageId": "468789532432007169",
        },
    ),
    _base(
        "message",
        "01HZ0000000000000000IMAGE1",
        replyToken="rt-image",
        message={"id": "354718705033693859", "type": "image", "quoteToken": "q", "contentProvider": {"type": "line"}},
    ),
    _base(
        "message",
        "01HZ0000000000000000IMAGE2",
        replyToken="rt-image-ext",
        message={
            "id": "354718705033693860",
            "type": "image",
            "quoteToken": "q",
            "contentProvider": {
                "type": "external",
                "originalContentUrl": "https://cdn.example/full.jpg",
                "previewImageUrl": "https://cdn.example/preview.jpg",
            },
        },
    ),
    _base(
        "message",
        "01HZ0000000000000000VIDEO1",
        replyToken="rt-video",
        message={
            "id": "325708",
            "type": "video",
            "quoteToken": "q",
            "duration": 60000,
            "contentProvider": {"type": "line"},
        },
    ),
    _base(
        "message",
        "01HZ0000000000000000AUDIO1",
        replyToken="rt-audio",
        message={"id": "325709", "type": "audio", "duration": 60000, "contentProvider": {"type": "line"}},
    ),
    _base(
        "message",
        "01HZ00000000000000000FILE1",
        replyToken="rt-file",
        message={"id": "325710", "type": "file", "fileName": "報價單.pdf", "fileSize": 2138},
    ),
    _base(
        "message",
        "01HZ0000000000000000STICK1",
        replyToken="rt-sticker",
        message={
            "id": "325711",
            "type": "sticker",
            "quoteToken": "q",
            "packageId": "446",
            "stickerId": "1988",
            "stickerResourceType": "ANIMATION",
            "keywords": ["happy", "smile"],
        },
    ),
    _base(
        "message",
        "01HZ00000000000000000LOC01",
        replyToken="rt-location",
        message={
            "id": "325712",
            "type": "location",
            "title": "台北101",
            "address": "110台北市信義區信義路五段7號",
            "latitude": 25.033976,
            "longitude": 121.5645389,
        },
    ),
    _base("follow", "01HZ000000000000000FOLLOW1", replyToken="rt-follow", follow={"isUnblocked": True}),
    _base("unfollow", "01HZ00000000000000UNFOLLOW"),
    _base(
        "postback",
        "01HZ0000000000000POSTBACK1",
        replyToken="rt-postback",
        postback={"data": "action=buy&itemid=111", "params": {"datetime": "2024-01-02T10:00"}},
    ),
]


class TestParseWebhook:
    def test_all_event_kinds(self) -> None:
        events = parse_webhook(_payload(*ALL_EVENTS))
        assert [e.event_type for e in events] == [
            "message",
            "message",
            "message",
            "message",
            "message",
            "message",
            "sticker",
            "message",
            "follow",
            "unfollow",
            "postback",
        ]
        assert all(e.channel == "line" for e in events)
        assert all(e.sender_external_id == USER for e in events)
        assert [e.provider_message_id for e in events] == [ev["webhookEventId"] for ev in ALL_EVENTS]
        assert all(e.sent_at == datetime(2024, 1, 2, 2, 0, tzinfo=UTC) for e in events)
        text, image, image_ext, video, audio, file_, sticker, location, follow, unfollow, postback = events

        assert text.text == "你好，我想查詢訂單 (emoji)"
        assert text.reply_token == "rt-text"
        assert text.thread_keys == (f"user:{USER}", "468789532432007169")
        assert text.attachments == ()

        assert image.attachments == (
            Attachment("354718705033693859.jpg", "image/jpeg", None, provider_id="354718705033693859"),
        )
        assert image_ext.attachments[0].url == "https://cdn.example/full.jpg"
        assert video.attachments[0].content_type == "video/mp4"
        assert audio.attachments[0].filename == "325709.m4a"
        assert file_.attachments == (Attachment("報價單.pdf", "application/pdf", 2138, provider_id="325710"),)

        assert sticker.raw["message"]["stickerId"] == "1988"
        assert location.text == "台北101 110台北市信義區信義路五段7號 (25.033976, 121.5645389)"

        assert follow.reply_token == "rt-follow"
        assert follow.raw["follow"]["isUnblocked"] is True
        assert unfollow.reply_token is None
        assert postback.text == "action=buy&itemid=111"
        assert postback.raw["postback"]["params"]["datetime"] == "2024-01-02T10:00"
        assert all(e.raw["destination"] == DEST for e in events)

    def test_payload_is_line_shaped(self) -> None:
        # The official SDK parser accepts our fixtures with our signature: shapes and HMAC agree.
        body = _payload(*ALL_EVENTS)
        sdk_events = WebhookParser(SECRET).parse(body.decode(), sign(body))
        assert [type(e).__name__ for e in sdk_events] == [
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "MessageEvent",
            "FollowEvent",
            "UnfollowEvent",
            "PostbackEvent",
        ]

    def test_redelivery_kept(self) -> None:
        event = _base(
            "message",
            "01HZREDELIVERED",
            replyToken="rt",
            message={"id": "1", "type": "text", "text": "again", "quoteToken": "q"},
            deliveryContext={"isRedelivery": True},
        )
        [parsed] = parse_webhook(_payload(event))
        assert parsed.raw["deliveryContext"]["isRedelivery"] is True
        assert is_redelivery(parsed)
        assert not is_redelivery(parse_webhook(_payload(ALL_EVENTS[0]))[0])

    def test_group_source(self) -> None:
        event = _base("message", "01HZGROUP", replyToken="rt", message={"id": "2", "type": "text", "text": "hi"})
        event["source"] = {"type": "group", "groupId": GROUP, "userId": USER}
        [parsed] = parse_webhook(_payload(event))
        assert parsed.sender_external_id == USER
        assert parsed.thread_keys == (f"group:{GROUP}",)

    def test_group_source_without_user_consent(self) -> None:
        event = _base("join", "01HZJOIN", replyToken="rt")
        event["source"] = {"type": "group", "groupId": GROUP}
        [parsed] = parse_webhook(_payload(event))
        assert parsed.event_type == "join"
        assert parsed.sender_external_id == GROUP

    def test_unknown_and_other_events_pass_through(self) -> None:
        unsend = _base("unsend", "01HZUNSEND", unsend={"messageId": "325708"})
        odd = _base("somethingNew", "01HZNEW")
        parsed = parse_webhook(_payload(unsend, odd))
        assert [p.event_type for p in parsed] == ["unsend", "somethingNew"]
        assert parsed[0].raw["unsend"]["messageId"] == "325708"

    def test_missing_webhook_event_id_falls_back(self) -> None:
        with_message = {
            "type": "message",
            "replyToken": "r",
            "source": {"type": "user", "userId": USER},
            "timestamp": 1,
            "message": {"id": "999", "type": "text", "text": "x"},
        }
        without = {"type": "unfollow", "source": {"type": "user", "userId": USER}, "timestamp": 1}
        first, second = parse_webhook(_payload(with_message, without))
        assert first.provider_message_id == "999"
        assert second.provider_message_id.startswith("sha256:")
        assert parse_webhook(_payload(without))[0].provider_message_id == second.provider_message_id

    def test_console_verification_has_no_events(self) -> None:
        assert parse_webhook(b'{"destination":"U0","events":[]}') == []

    @pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"events": {}}', b'{"events": [1]}', b"\xff\xfe"])
    def test_invalid_payloads(self, body: bytes) -> None:
        with pytest.raises(InvalidPayloadError):
            parse_webhook(body)


# ---------------------------------------------------------------------------
# client against a real local HTTP server
# ---------------------------------------------------------------------------


class TestClient:
    def test_reply(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "POST",
            "/v2/bot/message/reply",
            json_body={"sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1Tz7b..."}]},
            headers={"x-line-request-id": "req-1"},
        )
        result = client.reply("rt-text", ["收到，請稍候", {"type": "sticker", "packageId": "446", "stickerId": "1988"}])
        assert result.sent_message_ids == ("461230966842064897",)
        assert result.request_id == "req-1"
        assert not result.duplicate
        [req] = api.requests
        assert req.headers["authorization"] == f"Bearer {TOKEN}"
        assert req.headers["content-type"] == "application/json"
        assert "x-line-retry-key" not in req.headers  # LINE rejects retry keys on reply
        assert req.json() == {
            "replyToken": "rt-text",
            "messages": [
                {"type": "text", "text": "收到，請稍候"},
                {"type": "sticker", "packageId": "446", "stickerId": "1988"},
            ],
            "notificationDisabled": False,
        }

    def test_push_sends_uuid_retry_key(self, client: LineClient, api: StubServer) -> None:
        api.add("POST", "/v2/bot/message/push", json_body={"sentMessages": [{"id": "1"}]})
        result = client.push(USER, text_message("hello"), notification_disabled=True)
        [req] = api.requests
        key = req.headers["x-line-retry-key"]
        assert str(uuid.UUID(key)) == key
        assert result.retry_key == key
        assert req.json() == {"to": USER, "messages": [{"type": "text", "text": "hello"}], "notificationDisabled": True}

    def test_push_retry_reuses_key_and_409_means_already_sent(self, client: LineClient, api: StubServer) -> None:
        api.add("POST", "/v2/bot/message/push", status=500, json_body={"message": "Internal error"})
        api.add(
            "POST",
            "/v2/bot/message/push",
            status=409,
            json_body={"message": "The retry key is already accepted"},
            headers={"x-line-accepted-request-id": "accepted-req-9"},
        )
        with pytest.raises(LineRetryableError) as info:
            client.push(USER, "hello")
        key = info.value.retry_key
        assert key is not None
        result = client.push(USER, "hello", retry_key=key)
        assert result.duplicate
        assert result.request_id == "accepted-req-9"
        assert [r.headers["x-line-retry-key"] for r in api.requests] == [key, key]

    def test_error_classification_500(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "POST",
            "/v2/bot/message/push",
            status=503,
            body=b"<html>busy</html>",
            headers={"x-line-request-id": "req-503"},
        )
        with pytest.raises(LineRetryableError) as info:
            client.push(USER, "x")
        err = info.value
        assert isinstance(err, RetryableSendError) and err.retryable
        assert err.status_code == 503 and err.request_id == "req-503"

    def test_error_classification_429(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "POST",
            "/v2/bot/message/push",
            status=429,
            json_body={"message": "The API rate limit has been exceeded. Try again later."},
            headers={"Retry-After": "3"},
        )
        with pytest.raises(LineRetryableError) as info:
            client.push(USER, "x")
        assert info.value.status_code == 429
        assert info.value.retry_after == 3.0

    def test_monthly_quota_429_is_permanent(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "POST", "/v2/bot/message/push", status=429, json_body={"message": "You have reached your monthly limit."}
        )
        with pytest.raises(LinePermanentError):
            client.push(USER, "x")

    def test_error_classification_400(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "POST",
            "/v2/bot/message/reply",
            status=400,
            json_body={
                "message": "The request body has 1 error(s)",
                "details": [{"message": "May not be empty", "property": "messages[0].text"}],
            },
        )
        with pytest.raises(LinePermanentError) as info:
            client.reply("expired-token", "x")
        err = info.value
        assert isinstance(err, PermanentSendError) and not err.retryable
        assert err.status_code == 400
        assert "messages[0].text: May not be empty" in str(err)
        assert err.details == [{"message": "May not be empty", "property": "messages[0].text"}]

    def test_401_is_permanent(self, client: LineClient, api: StubServer) -> None:
        api.add("GET", f"/v2/bot/profile/{USER}", status=401, json_body={"message": "Authentication failed"})
        with pytest.raises(LinePermanentError) as info:
            client.get_profile(USER)
        assert info.value.status_code == 401

    def test_get_profile(self, client: LineClient, api: StubServer) -> None:
        api.add(
            "GET",
            f"/v2/bot/profile/{USER}",
            json_body={
                "displayName": "陳小華",
                "userId": USER,
                "language": "zh-TW",
                "pictureUrl": "https://profile.line-scdn.net/abc",
                "statusMessage": "Hello, LINE!",
            },
        )
        profile = client.get_profile(USER)
        assert profile.display_name == "陳小華"
        assert profile.language == "zh-TW"
        assert profile.picture_url == "https://profile.line-scdn.net/abc"
        assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"

    def test_get_content_uses_data_api(self, client: LineClient, api: StubServer, data_api: StubServer) -> None:
        jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256))
        data_api.add(
            "GET", "/v2/bot/message/354718705033693859/content", body=jpeg, headers={"Content-Type": "image/jpeg"}
        )
        assert client.get_content("354718705033693859") == jpeg
        assert api.requests == []
        assert data_api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"

    def test_get_content_not_ready(self, client: LineClient, data_api: StubServer) -> None:
        data_api.add("GET", "/v2/bot/message/325708/content", status=202, body=b"")
        with pytest.raises(LineRetryableError):
            client.get_content("325708")

    def test_get_content_missing(self, client: LineClient, data_api: StubServer) -> None:
        with pytest.raises(LinePermanentError) as info:
            client.get_content("nope")
        assert info.value.status_code == 404

    def test_network_error_is_retryable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        monkeypatch.setenv("KEFU_OUTBOUND_ALLOW", f"127.0.0.1:{port}")  # allowed, but nothing listens
        sock.close()  # nothing listens here any more
        with (
            LineClient(TOKEN, api_base=f"http://127.0.0.1:{port}", timeout=2.0) as c,
            pytest.raises(LineRetryableError) as info,
        ):
            c.push(USER, "x", retry_key="fixed-key")
        assert info.value.retry_key == "fixed-key"

    def test_timeout_is_retryable(self, api: StubServer) -> None:
        api.add("POST", "/v2/bot/message/push", json_body={}, delay=1.0)
        with LineClient(TOKEN, api_base=api.base_url, timeout=0.2) as c, pytest.raises(LineRetryableError):
            c.push(USER, "x")

    @pytest.mark.parametrize("messages", [[], ["a"] * 6])
    def test_message_count_validated(self, client: LineClient, messages: list[str]) -> None:
        with pytest.raises(ValueError, match="1-5"):
            client.push(USER, messages)

    def test_token_required(self) -> None:
        with pytest.raises(ValueError):
            LineClient("")
