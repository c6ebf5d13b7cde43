"""Agent attachments on replies (issue #18 item 4), against local servers speaking each provider's protocol: LINE
image messages fetch a signed, expiring kefu link; Messenger uploads `filedata` (multipart); email carries MIME
parts (aiosmtpd); the web-chat widget lists the file; the API callback lists signed links. A file a channel cannot
carry is a 4xx before anything is stored; a file lost before the send fails the delivery visibly."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any

import pytest
from sqlalchemy import select

from kefu.conversations.commands import CreateConversation
from tests.channels.conftest import hub_sign, line_body, line_sign, line_text
from tests.channels.fakes import FakeApi, Recorded

LINE_SECRET = "line-secret"
APP_SECRET = "app-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 2000


@pytest.fixture(autouse=True)
def _https_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """LINE fetches media only over https: kefu's public address is an https one."""
    monkeypatch.setenv("KEFU_BASE_URL", "https://kefu.example")


def _agent(make: Any, brand: Any) -> dict[str, str]:
    return make.token(make.agent("agent", [brand]))


def _post(client: Any, conv_id: int, auth: dict[str, str], body: str, *files: tuple[str, bytes, str]) -> Any:
    return client.post(
        f"/api/v1/channels/conversations/{conv_id}/messages",
        data={"body": body},
        files=[("files", f) for f in files],
        headers=auth,
    )


def _line_conv(client: Any, db: Any, jobs: Any, inbox: Any, brand: Any, api: FakeApi) -> Any:
    from kefu.conversations.models import Conversation

    ib = inbox(brand, "line", {"channel_secret": LINE_SECRET, "channel_access_token": "tok", "api_base": api.url})
    body = line_body(line_text("EV1", "U1", "請給我帳單"))
    r = client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(LINE_SECRET, body)},
    )
    assert r.status_code == 200
    assert jobs.drain()
    return db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()


def test_line_sends_images_by_signed_link_and_documents_as_links(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: FakeApi
) -> None:
    from kefu.channels import media

    brand = make.brand()
    conv = _line_conv(client, db, jobs, inbox, brand, line_api)
    line_api.requests.clear()
    auth = _agent(make, brand)
    r = _post(
        client, conv.id, auth, "這是您的帳單", ("bill.png", PNG, "image/png"), ("明細.pdf", PDF, "application/pdf")
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert [a["filename"] for a in out["attachments"]] == ["bill.png", "明細.pdf"]
    assert jobs.drain()
    messages = line_api.requests[-1].json()["messages"]
    assert [m["type"] for m in messages] == ["text", "image", "text"]
    assert messages[0]["text"] == "這是您的帳單"
    image_url = messages[1]["originalContentUrl"]
    assert image_url == messages[1]["previewImageUrl"]
    assert image_url.startswith("https://kefu.example/api/v1/channels/media/") and image_url.endswith("/bill.png")
    assert messages[2]["text"].startswith("📎 明細.pdf (1 KB)\nhttps://kefu.example/api/v1/channels/media/")

    # LINE's servers fetch the link: no login, the exact bytes, an image served inline, a document as a download.
    path = image_url.removeprefix("https://kefu.example")
    got = client.get(path)
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
    assert (
        got.headers["content-disposition"].startswith("inline") and got.headers["x-content-type-options"] == "nosniff"
    )
    doc = client.get(messages[2]["text"].split("\n")[1].removeprefix("https://kefu.example"))
    assert doc.status_code == 200 and doc.content == PDF and doc.headers["content-disposition"].startswith("attachment")
    # A forged or altered signature, and an expired link, are refused.
    token = path.split("/")[-2]
    body, sig = token.split(".")
    assert client.get(path.replace(token, f"{body}.{sig[:-2]}AA")).status_code == 404
    forged = path.replace(body, body[:-1] + ("A" if body[-1] != "A" else "B"))
    assert client.get(forged).status_code == 404
    row_id = out["attachments"][0]["id"]
    assert media.verify_token(token) == row_id
    assert media.verify_token(token, now=media.expires_at() + 10) is None


def test_channel_limits_refuse_with_a_problem_and_store_nothing(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.channels.models import ChannelAttachment

    brand = make.brand()
    conv = _line_conv(client, db, jobs, inbox, brand, line_api)
    auth = _agent(make, brand)
    # LINE has no video/zip message: a type the channel cannot carry is a 415 problem.
    r = _post(client, conv.id, auth, "影片", ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4"))
    assert r.status_code == 415 and r.headers["content-type"].startswith("application/problem+json")
    assert "video/mp4" in r.json()["detail"] and r.json()["code"] == "type"
    # Content that is not what it claims (an executable named .png).
    r = _post(client, conv.id, auth, "", ("fake.png", b"MZ\x90\x00", "image/png"))
    assert r.status_code == 415
    # Larger than LINE's 10 MB image limit: 413.
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)
    r = _post(client, conv.id, auth, "", ("huge.png", big, "image/png"))
    assert r.status_code == 413 and r.json()["mb"] == 10
    # Nothing to send at all.
    assert _post(client, conv.id, auth, "  ").status_code == 422
    # LINE fetches media over https only: an http public address is refused up front.
    monkeypatch.setenv("KEFU_BASE_URL", "http://kefu.example")
    r = _post(client, conv.id, auth, "", ("bill.png", PNG, "image/png"))
    assert r.status_code == 422 and r.json()["code"] == "https"
    assert db.scalars(select(ChannelAttachment).where(ChannelAttachment.conversation_id == conv.id)).all() == []

    # SMS carries no files at all; an internal note on the same conversation may keep one.
    phone = inbox(brand, "phone", {"sms_url": "http://127.0.0.1:9/sms"})
    from kefu.conversations.service import create_conversation

    customer = make.customer(brand)
    sms_conv = create_conversation(
        db,
        CreateConversation(brand_id=brand.id, customer_id=customer.id, inbox_id=phone.id, channel="phone"),
        actor=None,
    )
    db.commit()
    r = _post(client, sms_conv.id, auth, "單據", ("bill.png", PNG, "image/png"))
    assert r.status_code == 422 and r.json()["code"] == "unsupported"
    r = client.post(
        f"/api/v1/channels/conversations/{sms_conv.id}/messages",
        data={"body": "客戶來電提供的單據", "is_note": "true"},
        files=[("files", ("bill.png", PNG, "image/png"))],
        headers=auth,
    )
    assert r.status_code == 201 and r.json()["is_note"] is True


def _multipart(rec: Recorded) -> dict[str, Any]:
    head = f"Content-Type: {rec.headers['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + rec.body)
    parts: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
    return parts


def test_messenger_uploads_filedata_and_a_lost_file_fails_the_delivery(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: FakeApi
) -> None:
    from kefu.channels.models import ChannelAttachment, OutboxMessage
    from kefu.channels.storage import path_of
    from kefu.conversations.models import Conversation

    def answer(rec: Recorded) -> tuple[int, dict[str, str], bytes] | None:
        if rec.headers.get("content-type", "").startswith("multipart/form-data"):
            parts = _multipart(rec)
            psid = json.loads(parts["recipient"][2])["id"]
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"recipient_id": psid, "message_id": "m_file"}).encode(),
            )
        return None

    messenger_api.responder = answer
    brand = make.brand()
    cfg = {"app_secret": APP_SECRET, "verify_token": "vt", "page_access_token": "pat", "api_base": messenger_api.url}
    ib = inbox(brand, "messenger", cfg)
    event = {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000,
             "message": {"mid": "m_in_1", "text": "收據呢"}}  # fmt: skip
    body = json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [event]}]}).encode()
    r = client.post(
        f"/api/v1/channels/messenger/{ib.id}/webhook",
        content=body,
        headers={"X-Hub-Signature-256": hub_sign(APP_SECRET, body)},
    )
    assert r.status_code == 200
    assert jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    messenger_api.requests.clear()
    auth = _agent(make, brand)
    assert _post(client, conv.id, auth, "收據如附件", ("receipt.pdf", PDF, "application/pdf")).status_code == 201
    assert jobs.drain()
    text, upload = messenger_api.requests
    assert text.json()["message"]["text"] == "收據如附件"
    parts = _multipart(upload)
    assert parts["filedata"] == ("receipt.pdf", "application/pdf", PDF)
    message = json.loads(parts["message"][2])
    assert message["attachment"] == {"type": "file", "payload": {"is_reusable": False}}
    assert message["metadata"].endswith(text.json()["message"]["metadata"].split(":", 1)[1])
    assert parts["messaging_type"][2] == b"RESPONSE"
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id)).one()
    assert row.status == "sent"

    # The file is gone before the send (erased): the delivery fails with the reason, nothing half-sent.
    messenger_api.requests.clear()
    held: list[tuple[str, dict[str, Any]]] = []
    real_wake = jobs.wake
    jobs.wake = lambda name, payload: held.append((name, payload))  # the delivery waits while the file disappears
    r = _post(client, conv.id, auth, "", ("photo.png", PNG, "image/png"))
    assert r.status_code == 201
    att = db.get(ChannelAttachment, r.json()["attachments"][0]["id"])
    path_of(att).unlink()
    jobs.wake = real_wake
    for name, payload in held:
        real_wake(name, payload)
    db.expire_all()
    failed = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == r.json()["id"])).one()
    assert failed.status == "dead" and "no longer stored" in (failed.last_error or "")
    assert messenger_api.requests == []


def test_email_reply_carries_mime_attachments(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, upstream: Any
) -> None:
    from kefu.conversations.service import create_conversation
    from kefu.customers.service import find_or_create_by_identity

    captured, port = upstream
    brand = make.brand()
    ib = inbox(brand, "email", {"address": "help@shop.example", "smtp_host": "127.0.0.1", "smtp_port": port})
    customer, _ = find_or_create_by_identity(db, brand.id, "email", "mei@example.com", "美")
    conv = create_conversation(
        db,
        CreateConversation(brand_id=brand.id, customer_id=customer.id, inbox_id=ib.id, channel="email", subject="退款"),
        actor=None,
    )
    db.commit()
    auth = _agent(make, brand)
    r = _post(
        client, conv.id, auth, "附上退款單。", ("退款單.pdf", PDF, "application/pdf"), ("a.png", PNG, "image/png")
    )
    assert r.status_code == 201, r.text
    assert jobs.drain()
    (msg,) = captured.wait(1)
    assert msg.get_body(preferencelist=("plain",)).get_content().strip() == "附上退款單。"
    files = {p.get_filename(): (p.get_content_type(), p.get_content()) for p in msg.iter_attachments()}
    assert files == {"退款單.pdf": ("application/pdf", PDF), "a.png": ("image/png", PNG)}


def test_web_chat_visitor_sees_the_agents_file(client: Any, make: Any, db: Any, jobs: Any, inbox: Any) -> None:
    brand = make.brand()
    ib = inbox(brand, "web_chat")
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    hv = {"X-Kefu-Visitor": token}
    assert client.post("/api/v1/widget/messages", json={"body": "請給我型錄"}, headers=hv).status_code == 201
    assert jobs.drain()
    conv_id = client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]["conversation_id"]
    r = _post(client, conv_id, _agent(make, brand), "", ("catalog.pdf", PDF, "application/pdf"))
    assert r.status_code == 201 and r.json()["content_type"] == "file"
    last = client.get("/api/v1/widget/messages", headers=hv).json()["items"][-1]
    assert last["sender_type"] == "agent" and last["attachments"][0]["filename"] == "catalog.pdf"
    got = client.get(last["attachments"][0]["url"], params={"vt": token})
    assert got.status_code == 200 and got.content == PDF
    # Another visitor cannot fetch it.
    other = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    assert client.get(last["attachments"][0]["url"], params={"vt": other}).status_code == 404


def test_api_callback_lists_signed_links(client: Any, make: Any, db: Any, jobs: Any, inbox: Any) -> None:
    from kefu.conversations.models import Conversation

    api = FakeApi(lambda rec: (200, {"Content-Type": "application/json"}, b"{}"))
    try:
        brand = make.brand()
        ib = inbox(brand, "api", {"secret": "s3cret-inbox", "callback_url": api.url + "/cb"})
        auth_in = {"Authorization": "Bearer s3cret-inbox"}
        msg = {"id": "m1", "user": {"id": "u1"}, "text": "要發票"}
        assert client.post(f"/api/v1/channels/api/{ib.id}/messages", json=msg, headers=auth_in).status_code == 202
        assert jobs.drain()
        conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
        assert (
            _post(client, conv.id, _agent(make, brand), "發票", ("inv.pdf", PDF, "application/pdf")).status_code == 201
        )
        assert jobs.drain()
        sent = api.requests[-1].json()
        (att,) = sent["attachments"]
        assert att["filename"] == "inv.pdf" and att["size"] == len(PDF) and att["content_type"] == "application/pdf"
        assert client.get(att["url"].removeprefix("https://kefu.example")).content == PDF
    finally:
        api.close()


def test_scoped_and_foreign_agents_cannot_attach(client: Any, make: Any, db: Any, jobs: Any, inbox: Any) -> None:
    from kefu.conversations.service import create_conversation

    brand, other = make.brand(), make.brand()
    ib = inbox(brand, "web_chat")
    customer = make.customer(brand)
    conv = create_conversation(
        db,
        CreateConversation(brand_id=brand.id, customer_id=customer.id, inbox_id=ib.id, channel="web_chat"),
        actor=None,
    )
    db.commit()
    assert _post(client, conv.id, _agent(make, other), "x", ("a.png", PNG, "image/png")).status_code == 404
    assert _post(client, conv.id, {}, "x", ("a.png", PNG, "image/png")).status_code == 401


def test_messenger_retry_resends_only_the_parts_that_failed(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: FakeApi, session_factory: Any
) -> None:
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation

    failures = {"n": 1}

    def flaky(rec: Recorded) -> tuple[int, dict[str, str], bytes] | None:
        if rec.headers.get("content-type", "").startswith("multipart/form-data"):
            if failures["n"] > 0:
                failures["n"] -= 1
                error = {"error": {"message": "An unexpected error has occurred.", "code": 2, "is_transient": True}}
                return 500, {"Content-Type": "application/json"}, json.dumps(error).encode()
            return 200, {"Content-Type": "application/json"}, b'{"recipient_id": "PSID1", "message_id": "m_file"}'
        return None

    messenger_api.responder = flaky
    brand = make.brand()
    cfg = {"app_secret": APP_SECRET, "verify_token": "vt", "page_access_token": "pat", "api_base": messenger_api.url}
    ib = inbox(brand, "messenger", cfg)
    event = {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000,
             "message": {"mid": "m_in_1", "text": "收據呢"}}  # fmt: skip
    body = json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [event]}]}).encode()
    headers = {"X-Hub-Signature-256": hub_sign(APP_SECRET, body)}
    assert client.post(f"/api/v1/channels/messenger/{ib.id}/webhook", content=body, headers=headers).status_code == 200
    assert jobs.drain()
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    messenger_api.requests.clear()
    r = _post(client, conv.id, _agent(make, brand), "收據如附件", ("receipt.pdf", PDF, "application/pdf"))
    assert r.status_code == 201
    assert jobs.drain()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.message_id == r.json()["id"])).one()
    db.refresh(row)
    while row.status == "pending":
        outbox.deliver_due(session_factory)
        db.refresh(row)
    assert row.status == "sent"
    texts = [q for q in messenger_api.requests if q.headers.get("content-type", "").startswith("application/json")]
    uploads = [q for q in messenger_api.requests if q.headers.get("content-type", "").startswith("multipart/")]
    assert len(texts) == 1 and len(uploads) == 2  # the text went once; only the failed upload was repeated
    assert row.payload["parts_sent"] == 1
