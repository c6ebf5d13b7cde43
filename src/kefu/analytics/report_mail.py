"""Shared delivery of a periodic report: files stored once, one outbox e-mail per recipient, sent after commit."""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import make_msgid
from typing import Any


def store_files(
    session: Any, brand_id: int, base: str, files: Iterable[tuple[str, str, bytes]]
) -> list[dict[str, Any]]:
    """Store (ext, content type, bytes) attachments once; the outbox payloads refer to them."""
    from kefu.channels import storage

    out = []
    for ext, ctype, content in files:
        stored = storage.store(
            session, brand_id=brand_id, conversation_id=None, filename=f"{base}.{ext}", content_type=ctype, data=content
        )
        out.append(
            {
                "id": stored.id,
                "filename": stored.filename,
                "content_type": stored.content_type,
                "size": stored.size,
                "path": stored.path,
            }
        )
    return out


def queue(
    session: Any,
    inbox: Any,
    recipients: Iterable[str],
    *,
    subject: str,
    text: str,
    html: str,
    attachments: list[dict[str, Any]],
    key: str,
) -> list[int]:
    """One automatic, standalone outbox e-mail per address (idempotency key `key:address`); the outbox ids."""
    from kefu.channels import outbox
    from kefu.channels.email.adapter import inbox_address, message_id_domain

    cfg = inbox.config or {}
    ids = []
    for address in recipients:
        payload = {
            "text": text,
            "html": html,
            "subject": subject,
            "in_reply_to": None,
            "references": [],
            "message_id": make_msgid(domain=message_id_domain(cfg)),
            "ticket_tag": None,
            "reply_to": inbox_address(cfg) or None,
            "automatic": True,
            "standalone": True,  # a new thread: no "Re:", Auto-Submitted: auto-generated
            "attachments": attachments,
        }
        queued = outbox.queue(
            session,
            inbox=inbox,
            recipient=address,
            payload=payload,
            automatic=True,
            idempotency_key=f"{key}:{address}",
        )
        ids.append(queued.id)
    return ids
