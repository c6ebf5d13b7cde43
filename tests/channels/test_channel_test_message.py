"""The admin's "send test message" (issue #19 item 1) goes through each channel's real adapter to local servers
speaking the provider's protocol: email over SMTP (aiosmtpd), LINE and Messenger push, the SMS gateway, the API
callback. Success names the provider's message id; a refusal shows the provider's own error, inline, in the
admin's language; the recipient never lands in the audit log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from tests.channels.fakes import FakeApi, Recorded
from tests.conftest import free_port


def _admin(make: Any, brand: Any) -> dict[str, str]:
    return make.token(make.agent("admin", [brand]))


def _test(client: Any, inbox_id: int, auth: dict[str, str], to: str) -> Any:
    return client.post(f"/api/v1/channels/inboxes/{inbox_id}/test", json={"to": to, "text": "測試訊息"}, headers=auth)


def test_email_test_goes_through_the_smtp_relay(client: Any, make: Any, db: Any, inbox: Any, upstream: Any) -> None:
    from kefu.audit.models import AuditLog

    captured, port = upstream
    brand = make.brand()
    ib = inbox(brand, "email", {"address": "help@shop.example", "smtp_host": "127.0.0.1", "smtp_port": port})
    r = _test(client, ib.id, _admin(make, brand), "owner@shop.example")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    (msg,) = captured.wait(1)
    assert msg["To"] == "owner@shop.example" and "help@shop.example" in msg["From"]
    assert msg.get_content().strip() == "測試訊息" and msg["Message-ID"].endswith("@shop.example>")
    assert r.json()["provider_message_id"] == msg["Message-ID"]
    db.expire_all()
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "inbox.test_message")).all()
    assert [a.details for a in audit] == [{"kind": "email", "ok": True, "status": None}]
    assert "owner@shop.example" not in json.dumps([a.details for a in audit])

    # A relay that is not there: the connection error comes back, not a 500.
    ib2 = inbox(
        brand, "email", {"address": "b@shop.example", "smtp_host": "127.0.0.1", "smtp_port": free_port()}, "mail-2"
    )
    bad = _test(client, ib2.id, _admin(make, brand), "owner@shop.example").json()
    assert bad["ok"] is False and "SMTP connection failed" in bad["error"] and bad["retryable"] is True


def test_line_push_and_the_providers_error(client: Any, make: Any, db: Any, inbox: Any, line_api: FakeApi) -> None:
    brand = make.brand()
    ib = inbox(brand, "line", {"channel_secret": "s", "channel_access_token": "tok", "api_base": line_api.url})
    auth = _admin(make, brand)
    r = _test(client, ib.id, auth, "U4af4980629")
    assert r.json()["ok"] is True
    push = line_api.requests[-1]
    assert push.path == "/v2/bot/message/push" and push.headers["authorization"] == "Bearer tok"
    assert push.json()["to"] == "U4af4980629" and push.json()["messages"] == [{"type": "text", "text": "測試訊息"}]
    assert push.headers["x-line-retry-key"]

    def refuse(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 400, {"Content-Type": "application/json"}, json.dumps({"message": "Failed to send messages"}).encode()

    line_api.responder = refuse
    bad = _test(client, ib.id, auth, "Unobody").json()
    assert bad["ok"] is False and "Failed to send messages" in bad["error"] and bad["status_code"] == 400


def test_messenger_sms_and_api_callback(client: Any, make: Any, db: Any, inbox: Any, messenger_api: FakeApi) -> None:
    brand = make.brand()
    auth = _admin(make, brand)
    ms = inbox(brand, "messenger", {"app_secret": "a", "page_access_token": "pat", "api_base": messenger_api.url})
    assert _test(client, ms.id, auth, "PSID42").json()["ok"] is True
    sent = messenger_api.requests[-1].json()
    assert sent["recipient"] == {"id": "PSID42"} and sent["message"]["text"] == "測試訊息"

    def no_user(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        error = {"error": {"message": "(#100) No matching user found", "type": "OAuthException", "code": 100}}
        return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()

    messenger_api.responder = no_user
    bad = _test(client, ms.id, auth, "PSID0").json()
    assert bad["ok"] is False and "No matching user found" in bad["error"]

    gateway = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b'{"id": "sms-77"}'))
    callback = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        phone = inbox(brand, "phone", {"sms_url": gateway.url + "/send", "sms_token": "gw", "sms_sender": "KEFU"})
        r = _test(client, phone.id, auth, "0912345678").json()
        assert r == {
            "ok": True,
            "provider_message_id": "sms-77",
            "error": None,
            "retryable": False,
            "status_code": None,
        }
        sms = gateway.requests[-1]
        assert sms.json()["to"] == "0912345678" and sms.json()["sender"] == "KEFU"
        assert sms.headers["authorization"] == "Bearer gw"

        api = inbox(brand, "api", {"secret": "cb-secret", "callback_url": callback.url + "/cb"})
        assert _test(client, api.id, auth, "user-1").json()["ok"] is True
        cb = callback.requests[-1]
        assert cb.json()["user_id"] == "user-1" and cb.headers["x-kefu-signature"].startswith("sha256=")
    finally:
        gateway.close()
        callback.close()


def test_refusals_and_access(client: Any, make: Any, db: Any, inbox: Any) -> None:
    brand, other = make.brand(), make.brand()
    chat = inbox(brand, "web_chat")
    r = _test(client, chat.id, _admin(make, brand), "x")
    assert r.status_code == 422 and r.json()["code"] == "cannot"
    # An internal address as callback: the SSRF guard refuses it, shown as the error.
    api = inbox(brand, "api", {"secret": "s"})
    api.config = {**api.config, "callback_url": "http://169.254.169.254/latest"}
    db.commit()
    bad = _test(client, api.id, _admin(make, brand), "u").json()
    assert bad["ok"] is False and "refused" in bad["error"]
    assert _test(client, 999_999, _admin(make, other), "x").status_code == 404
    assert _test(client, chat.id, make.token(make.agent("agent", [brand])), "x").status_code == 403


@pytest.mark.parametrize(
    ("lang", "ok_text", "failed_text"),
    [
        ("zh-TW", "已送出測試訊息給 U1", "傳送失敗，服務商回覆："),
        ("zh-CN", "已发送测试消息给 U1", "发送失败，服务商回复："),
        ("en", "Test message sent to U1", "Not sent. The provider answered:"),
    ],
)
def test_admin_page_button_shows_the_result_in_the_admins_language(
    client: Any, make: Any, db: Any, inbox: Any, line_api: FakeApi, lang: str, ok_text: str, failed_text: str
) -> None:
    brand = make.brand()
    admin = make.agent("admin", [brand])
    ib = inbox(brand, "line", {"channel_secret": "s", "channel_access_token": "tok", "api_base": line_api.url})
    login = client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"})
    h = {"X-CSRF-Token": login.json()["csrf_token"], "HX-Request": "true"}
    page = client.get(f"/admin?tab=inboxes&brand_id={brand.id}&lang={lang}")
    assert f'hx-post="/admin/inboxes/{ib.id}/test"' in page.text
    r = client.post(f"/admin/inboxes/{ib.id}/test?lang={lang}", data={"to": "U1"}, headers=h)
    assert r.status_code == 200 and ok_text in r.text and 'data-test-result="ok"' in r.text

    def refuse(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return (
            400,
            {"Content-Type": "application/json"},
            json.dumps({"message": "The request body has 1 error(s)"}).encode(),
        )

    line_api.responder = refuse
    r = client.post(f"/admin/inboxes/{ib.id}/test?lang={lang}", data={"to": "U1"}, headers=h)
    assert r.status_code == 422 and failed_text in r.text and "The request body has 1 error(s)" in r.text
    r = client.post(f"/admin/inboxes/{ib.id}/test?lang={lang}", data={"to": " "}, headers=h)
    assert r.status_code == 422 and 'data-test-result="failed"' in r.text


@pytest.mark.parametrize("route", ["api", "page"])
def test_the_provider_is_called_outside_the_requests_transaction(
    client: Any, make: Any, db: Any, inbox: Any, monkeypatch: Any, route: str
) -> None:
    """A test send to a hanging provider (SMTP: up to 90 s) held the POST's write transaction, on SQLite the one
    writer turn of the whole install: every other write waited 15 s and answered 503. The request ends its
    transaction first, then calls the provider, then records the audit entry."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import kefu.channels.testsend as testsend
    from kefu.channels.base import SendResult

    brand = make.brand()
    auth = _admin(make, brand)
    ib = inbox(brand, "line", {"channel_access_token": "t", "channel_secret": "s"})
    seen: list[str] = []

    class Provider:
        def send(self, ctx: Any) -> SendResult:
            seen.append("send")
            return SendResult("m-1")

    def committed(session: Any) -> None:
        seen.append("commit")

    monkeypatch.setattr(testsend, "get_adapter", lambda kind: Provider())
    event.listen(Session, "after_commit", committed)
    try:
        if route == "api":
            r = _test(client, ib.id, auth, "U1")
        else:
            admin = make.agent("admin", [brand])
            login = client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"})
            h = {"X-CSRF-Token": login.json()["csrf_token"], "HX-Request": "true"}
            r = client.post(f"/admin/inboxes/{ib.id}/test", data={"to": "U1"}, headers=h)
    finally:
        event.remove(Session, "after_commit", committed)
    assert r.status_code == 200, r.text[:300]
    from kefu.audit.models import AuditLog

    assert seen[-3:] == ["commit", "send", "commit"], seen  # read part ended; provider; the audit entry committed
    assert db.scalars(select(AuditLog.action).where(AuditLog.target_id == str(ib.id))).all()[-1] == "inbox.test_message"
