"""Agent attachments on replies: what each channel can carry, storing the upload with the message, and the signed,
expiring public links that providers fetching media by URL (LINE, API callbacks) download from.

A file a channel cannot carry is refused with a 4xx problem before anything is stored or sent (never dropped).
Per channel (`LIMITS`): web chat shows the file in the widget; email attaches it as a MIME part; Messenger uploads
it with the Send API (multipart `filedata`); LINE sends JPEG/PNG as image messages (LINE fetches the signed https
URL) and other documents as a text message with the signed download link (the Messaging API has no file message);
the API channel's callback lists signed URLs. SMS, phone and board replies carry no files.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.config import data_dir
from kefu.channels.models import ChannelAttachment
from kefu.channels.storage import describe, safe_filename, store
from kefu.channels.types import RetryableSendError
from kefu.core.config import get_settings
from kefu.core.errors import InvalidInput, NotFound, storage_unavailable
from kefu.core.signing import Signer

if TYPE_CHECKING:
    from kefu.conversations.models import Conversation, Message

MB = 1024 * 1024
# Links handed to providers stay valid this long (LINE clients fetch the image when the chat is opened).
PUBLIC_URL_TTL_SECONDS = 7 * 24 * 3600
PUBLIC_PREFIX = "/api/v1/channels/media/"
_SIGNER = Signer(b"kefu-media-v1:")

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
MEDIA_TYPES = frozenset({"video/mp4", "audio/mpeg", "audio/mp4", "audio/x-m4a"})
ALL_TYPES = IMAGE_TYPES | DOCUMENT_TYPES | MEDIA_TYPES
# LINE image messages take JPEG or PNG only.
LINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one channel carries: bytes per file, bytes per message, accepted types, files per message."""

    max_file_bytes: int
    max_total_bytes: int
    types: frozenset[str]
    max_files: int = 5


LIMITS: dict[str, Limits] = {
    "web_chat": Limits(10 * MB, 25 * MB, ALL_TYPES),
    # Most mail servers refuse messages above 25 MB; base64 adds a third.
    "email": Limits(10 * MB, 15 * MB, ALL_TYPES, max_files=10),
    # Send API attachment upload limit.
    "messenger": Limits(25 * MB, 25 * MB, ALL_TYPES),
    # LINE image messages: 10 MB; documents go as a link to our own download.
    "line": Limits(10 * MB, 25 * MB, LINE_IMAGE_TYPES | DOCUMENT_TYPES, max_files=4),
    "api": Limits(20 * MB, 50 * MB, ALL_TYPES, max_files=10),
}
# Internal notes are never sent: any channel keeps files on notes with the web-chat limits.
NOTE_LIMITS = LIMITS["web_chat"]
# Bytes read from one multipart file before the checks: the largest per-file limit plus one (oversize is caught).
MAX_READ = max(limit.max_file_bytes for limit in LIMITS.values()) + 1


@dataclass(frozen=True, slots=True)
class Upload:
    """A file an agent attaches to a reply."""

    filename: str
    content_type: str
    data: bytes


def content_type_of(filename: str, declared: str) -> str:
    """The declared type without parameters, or a guess from the extension when the browser sent none."""
    ctype = (declared or "").split(";", 1)[0].strip().lower()
    if not ctype or ctype == "application/octet-stream":
        ctype = (mimetypes.guess_type(filename)[0] or "application/octet-stream").lower()
    return "audio/mp4" if ctype == "audio/x-m4a" else ctype


def limits_for(kind: str | None, *, note: bool = False) -> Limits | None:
    """The channel's limits (None: the channel cannot carry files)."""
    return NOTE_LIMITS if note else LIMITS.get(kind or "")


def check(kind: str | None, uploads: Sequence[Upload], *, note: bool = False) -> None:
    """Refuse files the channel cannot carry, with a 4xx problem naming the file and the limit."""
    if not uploads:
        return
    limits = limits_for(kind, note=note)
    if limits is None:
        raise InvalidInput.said("err_channels_no_attachments", channel=kind or "unknown").also(
            title="Channel cannot carry attachments",
            code="unsupported",
            channel=kind,
        )
    if len(uploads) > limits.max_files:
        raise InvalidInput.said("err_channels_too_many_files", n=limits.max_files, channel=kind).also(
            title="Too many attachments",
            code="many",
            channel=kind,
            n=limits.max_files,
        )
    total = 0
    for up in uploads:
        ctype = content_type_of(up.filename, up.content_type)
        if ctype not in limits.types:
            raise InvalidInput.said(
                "err_channels_file_type", file=safe_filename(up.filename), ctype=ctype, channel=kind
            ).also(
                status=415,
                title="Unsupported attachment type",
                code="type",
                channel=kind,
                file=safe_filename(up.filename),
            )
        if kind == "line" and not note and not get_settings().base_url.startswith("https://"):
            raise InvalidInput.said("err_channels_line_https").also(
                title="Channel cannot carry attachments",
                code="https",
                channel=kind,
            )
        magic = _MAGIC.get(ctype)
        if magic and not up.data.startswith(magic):
            raise InvalidInput.said("err_channels_file_content", file=safe_filename(up.filename), ctype=ctype).also(
                status=415,
                title="Unsupported attachment type",
                code="type",
                channel=kind,
                file=safe_filename(up.filename),
            )
        if not up.data:
            raise InvalidInput.said("err_channels_file_empty", file=safe_filename(up.filename)).also(
                title="Empty attachment", code="empty", channel=kind
            )
        if len(up.data) > limits.max_file_bytes:
            raise InvalidInput.said(
                "err_channels_file_too_large",
                file=safe_filename(up.filename),
                mb=limits.max_file_bytes // MB,
                channel=kind,
            ).also(
                status=413,
                title="Attachment too large",
                code="size",
                channel=kind,
                file=safe_filename(up.filename),
                mb=limits.max_file_bytes // MB,
            )
        total += len(up.data)
    if total > limits.max_total_bytes:
        raise InvalidInput.said("err_channels_total_too_large", mb=limits.max_total_bytes // MB, channel=kind).also(
            status=413,
            title="Attachment too large",
            code="total",
            channel=kind,
            mb=limits.max_total_bytes // MB,
        )


def store_uploads(session: Session, conv: Conversation, uploads: Sequence[Upload]) -> list[dict[str, Any]]:
    """Persist checked uploads under the conversation; returns the Message.attachments entries."""
    return [
        describe(
            store(
                session,
                brand_id=conv.brand_id,
                conversation_id=conv.id,
                filename=up.filename,
                content_type=content_type_of(up.filename, up.content_type),
                data=up.data,
            )
        )
        for up in uploads
    ]


def public_url(attachment_id: int, filename: str, *, now: float | None = None) -> str:
    """An absolute, signed download link valid for PUBLIC_URL_TTL_SECONDS (for providers that fetch by URL)."""
    token = _SIGNER.sign({"a": attachment_id}, now=now)
    base = get_settings().base_url.rstrip("/")
    return f"{base}{PUBLIC_PREFIX}{token}/{quote(safe_filename(filename), safe='')}"


def verify_token(token: str, *, now: float | None = None) -> int | None:
    """The attachment id of an authentic, unexpired link token, else None."""
    return _SIGNER.unsign(token, PUBLIC_URL_TTL_SECONDS, lambda d: int(d["a"]), now=now)


def seconds_left(token: str, *, now: float | None = None) -> int:
    """How long an authentic link stays valid (0 for anything else): caches must not outlive the link."""
    issued = _SIGNER.unsign(token, PUBLIC_URL_TTL_SECONDS, lambda d: int(d["t"]), now=now)
    if issued is None:
        return 0
    return max(0, int(issued + PUBLIC_URL_TTL_SECONDS - (time.time() if now is None else now)))


def outbound(session: Session, message: Message) -> list[dict[str, Any]]:
    """The message's stored files as an outbox payload: enough to send without the database (path, public URL)."""
    ids = [int(a["id"]) for a in message.attachments or [] if isinstance(a, Mapping) and isinstance(a.get("id"), int)]
    if not ids:
        return []
    rows = {
        r.id: r
        for r in session.scalars(
            select(ChannelAttachment).where(
                ChannelAttachment.id.in_(ids), ChannelAttachment.conversation_id == message.conversation_id
            )
        )
    }
    out = []
    for i in ids:
        row = rows.get(i)
        if row is None:
            continue
        out.append(
            {
                "id": row.id,
                "filename": row.filename,
                "content_type": row.content_type,
                "size": row.size,
                "path": row.path,
                "url": public_url(row.id, row.filename),
            }
        )
    return out


def read(item: Mapping[str, Any]) -> bytes:
    """The bytes of an outbound payload entry (raises FileNotFoundError when erased or missing, RetryableSendError
    while the store cannot be read)."""
    root = data_dir().resolve()
    full = (root / str(item.get("path") or "")).resolve()
    if root not in full.parents:
        raise FileNotFoundError("attachment path escapes the data dir")
    try:
        return Path(full).read_bytes()
    except OSError as exc:
        # An I/O error or a permission change is the store failing, not the file gone: the adapters' "attachment
        # gone" (permanent, dead-lettered at once) would drop the agent's reply for good. Retried with backoff.
        if storage_unavailable(exc):
            name = item.get("filename")
            raise RetryableSendError(f"attachment {name!r} cannot be read now ({exc.strerror})") from exc
        raise


def expires_at(now: float | None = None) -> int:
    """When a link signed now stops working (epoch seconds)."""
    return int((time.time() if now is None else now) + PUBLIC_URL_TTL_SECONDS)


def public_file(session: Session, token: str) -> tuple[ChannelAttachment, Path]:
    """The file a signed link names; 404 for a forged or expired link or an erased file."""
    from kefu.channels.storage import path_of

    attachment_id = verify_token(token)
    row = session.get(ChannelAttachment, attachment_id) if attachment_id is not None else None
    if row is None:
        raise NotFound.said("err_channels_link_invalid")
    path = path_of(row)
    if not path.exists():
        raise NotFound.said("err_channels_attachment_file_missing")
    return row, path


def reply(
    session: Session,
    conv: Conversation,
    *,
    agent_id: int | None,
    body: str,
    uploads: Sequence[Upload] = (),
    note: bool = False,
    meta: dict[str, Any] | None = None,
) -> Message:
    """An agent's reply or note with files: checked against the channel's limits, stored, then queued with it."""
    from kefu.brands.models import Inbox
    from kefu.conversations.service import add_message

    if not body.strip() and not uploads:
        raise InvalidInput.said("err_channels_reply_empty").also(code="empty")
    inbox = session.get(Inbox, conv.inbox_id) if conv.inbox_id is not None else None
    check(inbox.kind if inbox is not None else conv.channel, uploads, note=note)
    entries = store_uploads(session, conv, uploads)
    kind = "text"
    if not body.strip() and entries:
        major = str(entries[0]["content_type"]).split("/", 1)[0]
        kind = major if major in ("image", "video", "audio") else "file"
    message, _ = add_message(
        session,
        conv,
        sender_type="agent",
        body=body,
        agent_id=agent_id,
        is_note=note,
        content_type=kind,
        attachments=entries or None,
        meta=meta,
    )
    return message
