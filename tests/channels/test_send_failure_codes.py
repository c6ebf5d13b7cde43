"""Every HTTP send path names its failures with a stable code, which agents read in their language (dlf_<code>)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.channels.conftest import line_body, line_sign, line_text
from tests.channels.stub_http import StubServer

CODES = (
    "token_invalid",
    "recipient_unreachable",
    "outside_window",
    "rate_limited",
    "quota_exhausted",
    "payload_too_large",
    "provider_unavailable",
    "destination_refused",
)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _ctx(config: dict[str, Any], recipient: str = "U1") -> Any:
    from kefu.channels.base import SendContext

    return SendContext(1, config, recipient, {"text": "您好"}, "key-1", 1)


def _raised(fn: Any) -> Any:
    from kefu.channels.types import ChannelSendError

    with pytest.raises(ChannelSendError) as info:
        fn()
    return info.value


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (401, {"message": "Authentication failed. Confirm that the access token is valid."}, "token_invalid", False),
        (400, {"message": "Failed to send messages"}, "recipient_unreachable", False),
        (429, {"message": "The API rate limit has been exceeded. Try again later."}, "rate_limited", True),
        (429, {"message": "You have reached your monthly limit."}, "quota_exhausted", False),
        (413, {"message": "Request Entity Too Large"}, "payload_too_large", False),
        (503, {"message": "Service Unavailable"}, "provider_unavailable", True),
        (400, {"message": "The request body has 1 error(s)"}, None, False),  # our bug: the raw text, uncoded
    ],
)
def test_line_errors_carry_codes(stub: StubServer, status: int, body: Any, code: str | None, retryable: bool) -> None:
    from kefu.channels.line.protocol import LineClient

    stub.add("POST", "/v2/bot/message/push", status=status, json_body=body)
    with LineClient("tok", api_base=stub.base_url, timeout=2.0) as client:
        err = _raised(lambda: client.push("U1", "hi"))
    assert (err.code, err.retryable) == (code, retryable)


@pytest.mark.parametrize(
    ("status", "error", "code", "retryable"),
    [
        (400, {"code": 190, "error_subcode": 463, "message": "Error validating access token"}, "token_invalid", False),
        (400, {"code": 551, "message": "This person isn't available right now."}, "recipient_unreachable", False),
        (400, {"code": 100, "error_subcode": 2018001, "message": "No matching user"}, "recipient_unreachable", False),
        (
            400,
            {"code": 10, "error_subcode": 2018278, "message": "This message is sent outside of allowed window."},
            "outside_window",
            False,
        ),
        (400, {"code": 613, "message": "Calls to this api have exceeded the rate limit."}, "rate_limited", True),
        (500, {"code": 2, "message": "An unexpected error has occurred."}, "provider_unavailable", True),
        (413, {"code": 100, "message": "Request too large"}, "payload_too_large", False),
        (400, {"code": 100, "message": "(#100) Param recipient must be non-empty"}, None, False),
    ],
)
def test_messenger_errors_carry_codes(
    stub: StubServer, status: int, error: dict[str, Any], code: str | None, retryable: bool
) -> None:
    from kefu.channels.messenger.protocol import MessengerClient

    stub.add("POST", "/v21.0/me/messages", status=status, json_body={"error": {"type": "OAuthException", **error}})
    with MessengerClient("pat", api_base=stub.base_url, timeout=2.0) as client:
        err = _raised(lambda: client.send_text("6789", "hi"))
    assert (err.code, err.retryable) == (code, retryable)


@pytest.mark.parametrize(
    ("status", "sms_code", "api_code"),
    [
        (401, "token_invalid", None),  # the integrator checks our signature: its 401 is its own words
        (403, "token_invalid", None),
        (413, "payload_too_large", "payload_too_large"),
        (429, "rate_limited", "rate_limited"),
        (502, "provider_unavailable", "provider_unavailable"),
        (422, None, None),
    ],
)
def test_sms_gateway_and_api_callback_errors_carry_codes(
    stub: StubServer, status: int, sms_code: str | None, api_code: str | None
) -> None:
    from kefu.channels.api_channel.adapter import ApiChannelAdapter
    from kefu.channels.sms.adapter import SmsAdapter

    stub.add("POST", "/sms", status=status, json_body={"error": "no"})
    stub.add("POST", "/hook", status=status, json_body={"error": "no"})
    sms = _raised(lambda: SmsAdapter().send(_ctx({"sms_url": f"{stub.base_url}/sms", "sms_token": "t"}, "0912")))
    api = _raised(lambda: ApiChannelAdapter().send(_ctx({"callback_url": f"{stub.base_url}/hook", "secret": "s"})))
    assert (sms.code, api.code) == (sms_code, api_code)
    assert sms.retryable == api.retryable == (status >= 500 or status == 429)


def test_timeouts_and_internal_addresses_carry_codes(stub: StubServer) -> None:
    """A provider that does not answer in time is retried (then told as unavailable); an internal host never is."""
    from kefu.channels.line.protocol import LineClient
    from kefu.channels.messenger.protocol import MessengerClient
    from kefu.channels.sms.adapter import SmsAdapter

    stub.add("POST", "/v2/bot/message/push", json_body={}, delay=1.0)
    with LineClient("tok", api_base=stub.base_url, timeout=0.2) as client:
        slow = _raised(lambda: client.push("U1", "hi"))
    assert (slow.code, slow.retryable) == ("provider_unavailable", True)
    inside = "http://10.20.30.40"
    with LineClient("tok", api_base=inside, timeout=1.0) as client:
        line = _raised(lambda: client.push("U1", "hi"))
    with MessengerClient("pat", api_base=inside, timeout=1.0) as graph:
        messenger = _raised(lambda: graph.send_text("6789", "hi"))
    sms = _raised(lambda: SmsAdapter().send(_ctx({"sms_url": f"{inside}/sms"}, "0912")))
    assert {e.code for e in (line, messenger, sms)} == {"destination_refused"}
    assert not any(e.retryable for e in (line, messenger, sms))


def test_every_code_has_a_reason_in_each_language() -> None:
    from kefu.core.catalog import gettext

    for locale in ("zh-TW", "zh-CN", "en"):
        for code in CODES:
            assert gettext(f"dlf_{code}", locale) != f"dlf_{code}", (locale, code)


def test_an_expired_line_token_is_told_to_agents_in_their_language(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: Any
) -> None:
    """Through the outbox to the conversation page: the stored reason keeps LINE's words, agents read the code's."""
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Message
    from tests.web.test_admin_pages import _login

    brand = make.brand()
    secret = "line-channel-secret"
    ib = inbox(brand, "line", {"channel_secret": secret, "channel_access_token": "old", "api_base": line_api.url})
    body = line_body(line_text("E1", "U7", "請問退款進度"))
    webhook = client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(secret, body), "Content-Type": "application/json"},
    )
    assert webhook.status_code == 200
    assert jobs.drain()
    conv_id = db.scalar(select(Message.conversation_id).where(Message.provider_message_id == "E1"))
    agent = make.agent("agent", [brand])
    expired = json.dumps({"message": "Authentication failed. Confirm that the access token is valid."}).encode()
    line_api.responder = lambda rec: (401, {"Content-Type": "application/json"}, expired)
    sent = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "已退款"}, headers=make.token(agent))
    assert sent.status_code == 201, sent.text
    assert jobs.drain()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == sent.json()["id"])).one()
    db.refresh(row)
    assert row.status == "dead" and row.last_error is not None
    assert row.last_error.startswith("[token_invalid] ") and "Authentication failed" in row.last_error
    said = {
        "zh-TW": "管道的存取權杖無效或已過期，回覆未送出。",
        "zh-CN": "渠道的访问令牌无效或已过期，回复未发出。",
        "en": "access token is invalid or has expired, so the reply was not sent",
    }
    _login(client, agent)
    for lang, text in said.items():
        page = client.get(f"/console/conversations/{conv_id}?lang={lang}").text
        assert 'data-failure="token_invalid"' in page and text in page, lang
        assert "Authentication failed" not in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [("30", 30.0), ("Wed, 21 Oct 2099 07:28:00 GMT", 3600.0), ("soon", None), ("-5", 0.0)],
)
def test_every_provider_honours_retry_after_capped_at_an_hour(
    stub: StubServer, header: str, expected: float | None
) -> None:
    """The SMS gateway and the API callback said "429, Retry-After: 30" and the outbox retried after its own backoff
    (2 s, 4 s …), hammering a provider that asked for quiet. Both header forms (seconds, HTTP date) count; a date
    decades away or nonsense cannot park a reply for days."""
    from kefu.channels.api_channel.adapter import ApiChannelAdapter
    from kefu.channels.line.protocol import LineClient
    from kefu.channels.messenger.protocol import MessengerClient
    from kefu.channels.sms.adapter import SmsAdapter

    html = b"<html><body><h1>429 Too Many Requests</h1></body></html>"  # a proxy's page, not the provider's JSON
    for path in ("/sms", "/hook", "/v2/bot/message/push", "/v19.0/me/messages"):
        stub.add("POST", path, status=429, body=html, headers={"Retry-After": header, "Content-Type": "text/html"})
    errors = [
        _raised(lambda: SmsAdapter().send(_ctx({"sms_url": f"{stub.base_url}/sms", "sms_token": "t"}, "0912"))),
        _raised(lambda: ApiChannelAdapter().send(_ctx({"callback_url": f"{stub.base_url}/hook", "secret": "s"}))),
    ]
    with LineClient("tok", api_base=stub.base_url, timeout=2) as line:
        errors.append(_raised(lambda: line.push("U1", "hi")))
    with MessengerClient("tok", api_base=stub.base_url, api_version="v19.0", timeout=2) as messenger:
        errors.append(_raised(lambda: messenger.send_text("PSID", "hi")))
    assert [(e.retryable, e.code) for e in errors] == [(True, "rate_limited")] * 4
    assert [e.retry_after for e in errors] == [expected] * 4
