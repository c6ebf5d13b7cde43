"""Normalization: a ParsedEmail as the channel-neutral InboundMessage."""

from __future__ import annotations

from typing import Any

from kefu.channels.email.mime.headers import EmailAddress
from kefu.channels.email.mime.loops import is_auto_reply
from kefu.channels.email.mime.parsing import ParsedEmail
from kefu.channels.email.mime.quotes import strip_quoted_reply
from kefu.channels.types import EventType, InboundMessage

CHANNEL = "email"


def _address_json(addr: EmailAddress) -> dict[str, Any]:
    return {"name": addr.name, "address": addr.address}


def to_inbound(parsed: ParsedEmail, *, strip_quotes: bool = True) -> InboundMessage:
    """Map a ParsedEmail to the channel-neutral InboundMessage (text has quoted history removed)."""
    sender = parsed.from_addr
    raw: dict[str, Any] = {
        "message_id": parsed.message_id,
        "message_id_generated": parsed.message_id_generated,
        "in_reply_to": parsed.in_reply_to,
        "references": list(parsed.references),
        "from": _address_json(sender) if sender else None,
        "to": [_address_json(a) for a in parsed.to],
        "cc": [_address_json(a) for a in parsed.cc],
        "reply_to": [_address_json(a) for a in parsed.reply_to],
        "date": parsed.date.isoformat() if parsed.date else None,
        "full_text": parsed.text,
        "is_auto_reply": is_auto_reply(parsed),
        "headers": [[key, value] for key, value in parsed.headers],
    }
    return InboundMessage(
        channel=CHANNEL,
        provider_message_id=parsed.message_id,
        sender_external_id=sender.address.lower() if sender else "",
        sender_name=sender.name if sender else None,
        text=strip_quoted_reply(parsed.text) if strip_quotes else parsed.text,
        html=parsed.html,
        attachments=parsed.attachments,
        sent_at=parsed.date,
        thread_keys=parsed.thread_keys,
        subject=parsed.subject,
        reply_token=None,
        event_type=EventType.MESSAGE,
        raw=raw,
    )
