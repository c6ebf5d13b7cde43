"""Parsing: raw RFC 5322 bytes into a ParsedEmail (bodies, attachments, threading ids)."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from kefu.channels.email.mime.charsets import _candidate_codecs, decode_bytes
from kefu.channels.email.mime.headers import (
    _PARSE_POLICY,
    EmailAddress,
    _get_param,
    _parse_address_list,
    _parse_date,
    _parse_msgids,
    _raw_header,
    _raw_headers,
    _unfold,
    decode_header_value,
)
from kefu.channels.email.mime.html import html_to_text, sanitize_html
from kefu.channels.types import Attachment


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedEmail:
    """A decoded inbound email; ``html`` is already sanitized and safe to render."""

    # Always "<id@host>". Synthesized from the raw bytes when the mail has none, so re-fetching the
    # same mail still yields the same dedupe key.
    message_id: str
    message_id_generated: bool = False
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_addr: EmailAddress | None = None
    to: tuple[EmailAddress, ...] = ()
    cc: tuple[EmailAddress, ...] = ()
    reply_to: tuple[EmailAddress, ...] = ()
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Every header, decoded, in original order.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        """First decoded value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def thread_keys(self) -> tuple[str, ...]:
        """In-Reply-To then References, deduplicated: ids that link this mail to a conversation."""
        keys = ([self.in_reply_to] if self.in_reply_to else []) + list(self.references)
        return tuple(k for k in dict.fromkeys(keys) if k != self.message_id)


@dataclass(slots=True)
class _Collected:
    text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


_UNSAFE_FILENAME_RE = re.compile(r"[\x00-\x1f\x7f]+")


def _clean_filename(name: str) -> str:
    # Attachment names are attacker-controlled; drop any path and control characters.
    name = _UNSAFE_FILENAME_RE.sub("", name).replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".")
    return name[:255]


def _part_filename(part: Message, fallback_charset: str | None) -> str | None:
    raw = _get_param(part, "content-disposition", "filename", fallback_charset)
    if not raw:
        raw = _get_param(part, "content-type", "name", fallback_charset)
    if not raw:
        return None
    return _clean_filename(raw) or None


def _default_filename(content_type: str, index: int) -> str:
    if content_type == "message/rfc822":
        extension = ".eml"
    else:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{index + 1}{extension}"


def _message_part_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        chunks: list[bytes] = []
        for sub in payload:
            if isinstance(sub, Message):
                try:
                    chunks.append(sub.as_bytes(policy=email.policy.compat32))
                except (ValueError, TypeError, LookupError, UnicodeError):
                    chunks.append(str(sub).encode("utf-8", "replace"))
        return b"".join(chunks)
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else b""


def _part_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        return _message_part_bytes(part)
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else b""


def _to_attachment(part: Message, index: int, fallback_charset: str | None) -> Attachment:
    content_type = part.get_content_type()
    data = _part_bytes(part)
    filename = _part_filename(part, fallback_charset) or _default_filename(content_type, index)
    raw_cid = _raw_header(part, "content-id")
    content_id = (_unfold(raw_cid).strip().strip("<>").strip() or None) if raw_cid else None
    disposition = part.get_content_disposition()
    inline = disposition == "inline" or (disposition is None and content_id is not None)
    return Attachment(
        filename=filename,
        content_type=content_type,
        size=len(data),
        data=data,
        content_id=content_id,
        inline=inline,
    )


def _unflow(text: str, *, delsp: bool) -> str:
    """Join RFC 3676 format=flowed soft line breaks so wrapped lines read as one paragraph."""
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0

    def flush() -> None:
        nonlocal buffer
        if buffer is not None:
            out.append(("> " * buffer_depth) + buffer if buffer_depth else buffer)
            buffer = None

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buffer is not None and depth != buffer_depth:
            flush()
        soft_break = content.endswith(" ") and content != "-- "
        if soft_break and delsp:
            content = content[:-1]
        buffer = content if buffer is None else buffer + content
        buffer_depth = depth
        if not soft_break:
            flush()
    flush()
    return "\n".join(out)


def _part_text(part: Message, fallback_charset: str | None) -> str:
    data = _part_bytes(part)
    charset = _get_param(part, "content-type", "charset", None)
    text = decode_bytes(data, charset or fallback_charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_subtype() == "plain":
        flowed = (_get_param(part, "content-type", "format", None) or "").lower() == "flowed"
        if flowed:
            delsp = (_get_param(part, "content-type", "delsp", None) or "").lower() == "yes"
            text = _unflow(text, delsp=delsp)
    return text


def _is_attachment(part: Message, fallback_charset: str | None) -> bool:
    if part.get_content_disposition() == "attachment":
        return True
    return _part_filename(part, fallback_charset) is not None


def _collect(part: Message, acc: _Collected, fallback_charset: str | None) -> None:
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _collect(sub, acc, fallback_charset)
            return
        # A multipart without a usable boundary: the best we can do is show its bytes as text.
        acc.text.append(decode_bytes(_part_bytes(part), fallback_charset))
        return
    content_type = part.get_content_type()
    if content_type in ("text/plain", "text/html") and not _is_attachment(part, fallback_charset):
        body = _part_text(part, fallback_charset)
        (acc.text if content_type == "text/plain" else acc.html).append(body)
        return
    acc.attachments.append(_to_attachment(part, len(acc.attachments), fallback_charset))


def _charset_hint(message: Message) -> str | None:
    # Raw 8-bit headers are almost always in the same charset as the body text parts.
    for part in message.walk():
        if part.get_content_maintype() == "text":
            charset = _get_param(part, "content-type", "charset", None)
            if charset and _candidate_codecs(charset):
                return charset
    return None


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse raw RFC 5322 bytes into a ParsedEmail (decoded headers, bodies, attachments)."""
    message = email.message_from_bytes(raw, policy=_PARSE_POLICY)
    hint = _charset_hint(message)

    headers = tuple((key, decode_header_value(str(value), hint)) for key, value in message.raw_items())

    message_ids = _parse_msgids(_raw_header(message, "message-id"))
    generated = not message_ids
    message_id = message_ids[0] if message_ids else f"<{hashlib.sha256(raw).hexdigest()}@kefu.invalid>"

    in_reply_to_ids = _parse_msgids(_raw_header(message, "in-reply-to"))
    references = _parse_msgids(" ".join(_raw_headers(message, "references")))

    from_list = _parse_address_list(_raw_headers(message, "from"), hint)

    collected = _Collected()
    _collect(message, collected, hint)
    raw_html = "\n".join(h for h in collected.html if h.strip())
    text = "\n\n".join(t.strip("\n") for t in collected.text if t.strip())
    if not text and raw_html:
        text = html_to_text(raw_html)

    return ParsedEmail(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else None,
        references=references,
        from_addr=from_list[0] if from_list else None,
        to=_parse_address_list(_raw_headers(message, "to"), hint),
        cc=_parse_address_list(_raw_headers(message, "cc"), hint),
        reply_to=_parse_address_list(_raw_headers(message, "reply-to"), hint),
        subject=decode_header_value(_raw_header(message, "subject"), hint),
        date=_parse_date(_raw_header(message, "date")),
        text=text.strip(),
        html=(sanitize_html(raw_html) or None) if raw_html else None,
        attachments=tuple(collected.attachments),
        headers=headers,
    )
