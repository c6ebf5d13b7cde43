"""Email end to end over real sockets: our aiosmtpd receiver in, an aiosmtpd upstream out, dovecot for IMAP."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import free_port

SUPPORT = "support@shop.example"


def _mail(
    sender: str,
    subject: str,
    text: str,
    *,
    msgid: str | None = None,
    in_reply_to: str | None = None,
    html: str | None = None,
    image: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = SUPPORT
    m["Subject"] = subject
    m["Message-ID"] = msgid or make_msgid(domain="example.com")
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = in_reply_to
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(text)
    if html:
        m.add_alternative(html, subtype="html")
    if image:
        m.add_attachment(image, maintype="image", subtype="png", filename="收據.png")
    return m


@pytest.fixture
def receiver(session_factory: Any) -> Any:
    """kefu's SMTP receiver on a loopback port, writing through the test transaction."""
    from kefu.channels.email.receiver import start_receiver

    controller = start_receiver("127.0.0.1", free_port(), session_factory)
    yield controller
    controller.stop()


def _send(receiver: Any, msg: EmailMessage, jobs: Any, rcpt: str = SUPPORT) -> None:
    with smtplib.SMTP(receiver.hostname, receiver.port, timeout=10) as s:
        s.send_message(msg, to_addrs=[rcpt])
    assert jobs.drain()


def _email_inbox(inbox: Any, brand: Any, port: int, **extra: Any) -> Any:
    cfg = {"address": SUPPORT, "from_name": "客服中心", "smtp_host": "127.0.0.1", "smtp_port": port, **extra}
    return inbox(brand, "email", cfg)


def test_smtp_in_threading_auto_ack_and_threaded_reply_out(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, receiver: Any, upstream: Any, monkeypatch: Any
) -> None:
    from kefu.conversations.models import Conversation, Message
    from kefu.tickets.models import Ticket

    captured, up_port = upstream
    monkeypatch.setenv("KEFU_EMAIL_AUTO_ACK_PER_HOUR", "2")
    brand = make.brand()
    ib = _email_inbox(inbox, brand, up_port, auto_ack=True)
    first = _mail(
        "Amy Wang <Amy@Example.com>",
        "訂單 #123 沒有收到",
        "我上週訂的商品還沒到。",
        html="<p>我上週訂的商品還沒到。</p><script>alert(1)</script>",
        image=b"\x89PNG\r\n\x1a\nreceipt",
    )
    # Unknown recipients are refused at RCPT time.
    with pytest.raises(smtplib.SMTPRecipientsRefused), smtplib.SMTP(receiver.hostname, receiver.port) as s:
        s.send_message(first, to_addrs=["nobody@shop.example"])
    _send(receiver, first, jobs)
    _send(receiver, first, jobs)  # a retransmission is accepted but stored once

    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    msgs = list(db.scalars(select(Message).where(Message.conversation_id == conv.id)))
    assert len(msgs) == 1 and msgs[0].body.startswith("我上週訂的商品還沒到")
    assert "<script" not in msgs[0].meta["html"] and conv.subject == "訂單 #123 沒有收到"
    att = msgs[0].attachments[0]
    assert att["filename"] == "收據.png" and att["size"] == len(b"\x89PNG\r\n\x1a\nreceipt")

    # One auto-acknowledgement, threaded to the customer's mail and marked as automatic.
    ack = captured.wait(1)[0]
    assert ack["In-Reply-To"] == first["Message-ID"] and ack["Auto-Submitted"] == "auto-replied"
    assert ack["Subject"] == "Re: 訂單 #123 沒有收到" and ack["To"] == "amy@example.com"

    # The agent's reply goes out through SMTP with threading headers and a Message-ID we remember.
    h = make.token(make.agent("agent", [brand]))
    reply = client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "已為您查詢，明天送達。"}, headers=h)
    assert jobs.drain()
    out = captured.wait(2)[1]
    assert out["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in out["References"]
    assert out.get("Auto-Submitted") is None and "明天送達" in out.get_content()
    db.expire_all()
    assert db.get(Message, reply.json()["id"]).provider_message_id == out["Message-ID"]

    # The customer answers the agent: In-Reply-To threads it into the same conversation.
    _send(receiver, _mail("amy@example.com", "Re: 訂單 #123 沒有收到", "謝謝！", in_reply_to=out["Message-ID"]), jobs)
    assert db.scalar(select(Message.conversation_id).order_by(Message.id.desc()).limit(1)) == conv.id

    # A ticket number in the subject threads a mail with no headers at all.
    db.expire_all()
    ticket = db.get(Ticket, db.get(Conversation, conv.id).ticket_id)  # the first mail opened the case (#17)
    assert ticket is not None and ticket.channel == "email" and ticket.subject == "訂單 #123 沒有收到"
    # (only from an authenticated sender: ticket numbers are guessable, #16)
    passed = {"Authentication-Results": "mx.shop.example; spf=pass smtp.mailfrom=example.com; dmarc=pass"}
    _send(receiver, _mail("amy@example.com", f"[{ticket.number}] 補充資料", "補充：地址改了", headers=passed), jobs)
    assert db.scalar(select(Message.conversation_id).order_by(Message.id.desc()).limit(1)) == conv.id
    assert len(captured.messages) == 2  # no acks for continuing threads

    # Loop protection: no ack to an auto-reply, and at most N acks per sender per hour.
    _send(
        receiver,
        _mail("bot@example.com", "自動回覆: 休假中", "I am away", headers={"Auto-Submitted": "auto-replied"}),
        jobs,
    )
    for i in range(3):
        _send(receiver, _mail("bob@example.com", f"問題 {i}", "hello"), jobs)
    time.sleep(0.3)
    to = [m["To"] for _, _, m in captured.messages]
    assert "bot@example.com" not in to and to.count("bob@example.com") == 2


def test_smtp_outage_retries_then_sends(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, receiver: Any, upstream: Any, session_factory: Any
) -> None:
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation

    captured, up_port = upstream
    brand = make.brand()
    ib = _email_inbox(inbox, brand, free_port())  # nothing listens there yet
    _send(receiver, _mail("amy@example.com", "hello", "hi"), jobs)
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    h = make.token(make.agent("agent", [brand]))
    client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "reply"}, headers=h)
    assert jobs.drain()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id)).one()
    db.refresh(row)
    assert row.status == "pending" and row.attempts == 1 and "SMTP connection failed" in (row.last_error or "")
    ib.config = {**ib.config, "smtp_port": up_port}  # the relay comes back
    db.commit()
    outbox.deliver_due(session_factory)
    db.refresh(row)
    assert row.status == "sent" and row.attempts == 2
    assert captured.wait(1)[0]["Message-ID"] == row.idempotency_key


def test_imap_poller_is_uid_based_and_idempotent(
    app: Any, make: Any, db: Any, jobs: Any, inbox: Any, dovecot: Any, session_factory: Any
) -> None:
    from imapclient import IMAPClient

    from kefu.channels.email.imap import poll
    from kefu.channels.models import ImapCursor
    from kefu.conversations.models import Conversation, Message

    imap = IMAPClient(dovecot["host"], port=dovecot["port"], ssl=False)
    imap.login(dovecot["user"], dovecot["password"])
    first = _mail("carol@example.com", "發票問題", "請問發票何時寄出？")
    for m in (first, _mail("dave@example.com", "退款", "退款進度？"), _mail("erin@example.com", "Hi", "English mail")):
        imap.append("INBOX", m.as_bytes())
    brand = make.brand()
    ib = inbox(
        brand,
        "email",
        {
            "address": SUPPORT,
            "imap_host": dovecot["host"],
            "imap_port": dovecot["port"],
            "imap_ssl": False,
            "imap_user": dovecot["user"],
            "imap_password": dovecot["password"],
        },
    )
    assert poll(ib.id, session_factory) == 3
    assert jobs.drain()
    assert poll(ib.id, session_factory) == 0  # nothing new above the cursor
    cursor = db.get(ImapCursor, ib.id)
    db.refresh(cursor)
    assert cursor.last_uid == 3 and cursor.uidvalidity

    # A reply to the first mail arrives: the poller picks up only it and threads it.
    imap.append(
        "INBOX", _mail("carol@example.com", "Re: 發票問題", "補充統編", in_reply_to=first["Message-ID"]).as_bytes()
    )
    assert poll(ib.id, session_factory) == 1
    assert jobs.drain()
    convs = list(db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id).order_by(Conversation.id)))
    assert len(convs) == 3
    bodies = list(db.scalars(select(Message.body).where(Message.conversation_id == convs[0].id).order_by(Message.id)))
    assert [b.strip() for b in bodies] == ["請問發票何時寄出？", "補充統編"]
    # Re-reading the whole folder (e.g. UIDVALIDITY reset) still stores nothing twice.
    cursor.last_uid = 0
    db.commit()
    assert poll(ib.id, session_factory) == 0
    imap.logout()
