"""Email threading cannot be hijacked: strangers quoting ticket numbers or Message-IDs, forged From/Reply-To."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.channels.test_email import _email_inbox, _mail, _send

DMARC_FAIL = "mx.shop.example; spf=fail smtp.mailfrom=example.com; dkim=none; dmarc=fail header.from=example.com"
DMARC_PASS = "mx.shop.example; spf=pass smtp.mailfrom=example.com; dkim=pass; dmarc=pass header.from=example.com"


@pytest.fixture
def world(client: Any, make: Any, db: Any, jobs: Any, inbox: Any, receiver: Any, upstream: Any) -> dict[str, Any]:
    from kefu.conversations.models import Conversation
    from kefu.tickets.models import Ticket

    captured, port = upstream
    brand = make.brand()
    ib = _email_inbox(inbox, brand, port)
    first = _mail("Victim <victim@example.com>", "退款問題", "我的身分證 A123456789")
    _send(receiver, first, jobs)
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    ticket = db.get(Ticket, conv.ticket_id)  # the first mail opened the case (#17)
    assert ticket is not None
    h = make.token(make.agent("agent", [brand]))
    assert client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "處理中"}, headers=h).is_success
    assert jobs.drain()
    out = captured.wait(1)[0]
    return {"brand": brand, "inbox": ib, "conv": conv, "ticket": ticket, "headers": h, "out": out, "captured": captured}


def _conv_of_last(db: Any) -> int:
    from kefu.conversations.models import Message

    return int(db.scalar(select(Message.conversation_id).order_by(Message.id.desc()).limit(1)))


def _reply_and_capture(client: Any, jobs: Any, conv_id: int, h: Any, captured: Any, n: int) -> Any:
    assert client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "回覆"}, headers=h).is_success
    assert jobs.drain()
    return captured.wait(n)[n - 1]


def test_outbound_mail_carries_verifiable_token(world: dict[str, Any]) -> None:
    from kefu.channels.email.tokens import conversation_from_addresses, conversation_from_message_ids

    out, conv = world["out"], world["conv"]
    assert conversation_from_message_ids([out["Message-ID"]]) == conv.id
    assert conversation_from_addresses([str(out["Reply-To"])]) == conv.id
    tampered = str(out["Message-ID"]).replace(f"kefu.{conv.id}.", f"kefu.{conv.id + 1}.")
    assert conversation_from_message_ids([tampered]) is None


@pytest.mark.parametrize("how", ["ticket_number", "message_id", "reply_address"])
def test_stranger_never_lands_in_victims_conversation(
    world: dict[str, Any],
    client: Any,
    db: Any,
    jobs: Any,
    receiver: Any,
    how: str,
) -> None:
    conv, ticket, out = world["conv"], world["ticket"], world["out"]
    subject = f"Re: [{ticket.number}] 退款問題"
    mail = _mail(
        "Mallory <mallory@evil.example>",
        subject,
        "請把資料寄給我",
        in_reply_to=out["Message-ID"] if how == "message_id" else None,
        headers={"Reply-To": "mallory@evil.example"},
    )
    rcpt = str(out["Reply-To"]) if how == "reply_address" else "support@shop.example"
    if how == "reply_address":
        del mail["To"]
        mail["To"] = rcpt
    _send(receiver, mail, jobs, rcpt=rcpt)
    assert _conv_of_last(db) != conv.id
    # The agent's next reply in the victim's conversation still goes to the victim.
    reply = _reply_and_capture(client, jobs, conv.id, world["headers"], world["captured"], 2)
    assert reply["To"] == "victim@example.com"


def test_customer_reply_threads_by_token_and_reply_to_does_not_redirect(
    world: dict[str, Any],
    client: Any,
    db: Any,
    jobs: Any,
    receiver: Any,
) -> None:
    conv, out = world["conv"], world["out"]
    mail = _mail(
        "victim@example.com",
        "Re: 退款問題",
        "好的",
        in_reply_to=out["Message-ID"],
        headers={"Reply-To": "mallory@evil.example", "Authentication-Results": DMARC_PASS},
    )
    _send(receiver, mail, jobs)
    assert _conv_of_last(db) == conv.id
    reply = _reply_and_capture(client, jobs, conv.id, world["headers"], world["captured"], 2)
    assert reply["To"] == "victim@example.com"


def test_forged_from_with_failing_dmarc_is_flagged_and_kept_apart(
    world: dict[str, Any],
    db: Any,
    jobs: Any,
    receiver: Any,
) -> None:
    from kefu.conversations.models import Message

    conv, out, ticket = world["conv"], world["out"], world["ticket"]
    mail = _mail(
        "victim@example.com",
        f"Re: [{ticket.number}] 退款問題",
        "改寄到新地址",
        in_reply_to=out["Message-ID"],
        headers={"Authentication-Results": DMARC_FAIL},
    )
    _send(receiver, mail, jobs)
    last = db.scalar(select(Message).order_by(Message.id.desc()).limit(1))
    assert last.conversation_id != conv.id
    assert last.meta["unverified_sender"] is True and last.meta["sender_auth"] == "unverified"


def test_sender_verdicts() -> None:
    from kefu.channels.email.tokens import sender_verdict

    def raw(*values: str) -> dict[str, Any]:
        return {"headers": [["Authentication-Results", v] for v in values]}

    assert sender_verdict(raw(DMARC_FAIL)) == "unverified"
    assert sender_verdict(raw(DMARC_PASS)) == "verified"
    assert sender_verdict(raw("mx; spf=softfail; dkim=pass header.d=evil.example")) == "unverified"
    assert sender_verdict(raw()) == "unknown"
    assert sender_verdict(raw(), require=True) == "unverified"
    # A sender-written header below ours does not override; with authserv_id only ours counts.
    assert sender_verdict(raw(DMARC_FAIL, DMARC_PASS)) == "unverified"
    assert sender_verdict(raw("evil.example; dmarc=pass", DMARC_FAIL), authserv_id="mx.shop.example") == "unverified"


def test_unauthenticated_mail_quoting_a_ticket_number_starts_its_own_conversation(
    world: dict[str, Any], db: Any, jobs: Any, receiver: Any
) -> None:
    conv, ticket = world["conv"], world["ticket"]
    # From spoofed as the victim, no Authentication-Results at all: the guessable number is not enough.
    _send(receiver, _mail("victim@example.com", f"Re: [{ticket.number}] 退款問題", "寄給我"), jobs)
    assert _conv_of_last(db) != conv.id
    # With DMARC passing, the customer's own ticket number does thread.
    passed = {"Authentication-Results": DMARC_PASS}
    _send(receiver, _mail("victim@example.com", f"Re: [{ticket.number}] 退款問題", "補充", headers=passed), jobs)
    assert _conv_of_last(db) == conv.id
