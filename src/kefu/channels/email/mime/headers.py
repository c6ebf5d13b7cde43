"""Headers: RFC 2047 words, tolerant parsing, addresses, Message-IDs and dates."""

from __future__ import annotations

import base64
import binascii
import email.message
import email.policy
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.message import Message
from email.policy import EmailPolicy
from typing import Any

from kefu.channels.email.mime.charsets import decode_bytes

_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_CONTROL_RE = re.compile(r"[\x00\r\n]+")
_BASE64_RE = re.compile(rb"^[A-Za-z0-9+/]*$")


def _unfold(value: str) -> str:
    return _FOLD_RE.sub("", value)


def _has_surrogates(value: str) -> bool:
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in value)


def _literal_to_str(value: str, fallback_charset: str | None) -> str:
    # The parser smuggles raw 8-bit header bytes through as surrogate escapes; recover and decode.
    if _has_surrogates(value):
        return decode_bytes(value.encode("utf-8", "surrogateescape"), fallback_charset)
    return value


def _decode_encoded_word(encoding: str, payload: str) -> bytes | None:
    raw = payload.encode("utf-8", "surrogateescape")
    if encoding in "bB":
        stripped = raw.rstrip(b"=")
        if not _BASE64_RE.match(stripped):
            return None
        try:
            # Some mailers drop the base64 padding; restore it rather than reject the word.
            return base64.b64decode(stripped + b"=" * (-len(stripped) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return binascii.a2b_qp(raw, header=True)


def decode_header_value(value: str | None, fallback_charset: str | None = None) -> str:
    """Decode an RFC 2047 header value (Big5/GB2312/UTF-8 encoded words and raw 8-bit bytes) to text."""
    if not value:
        return ""
    text = _unfold(value)
    pieces: list[tuple[bytes | str, str | None]] = []
    pos = 0
    for match in _ENCODED_WORD_RE.finditer(text):
        literal = text[pos : match.start()]
        pos = match.end()
        previous_encoded = bool(pieces) and pieces[-1][1] is not None
        # RFC 2047 section 6.2: whitespace between adjacent encoded words is not displayed.
        if literal and not (previous_encoded and not literal.strip()):
            pieces.append((literal, None))
        charset = match.group(1).split("*", 1)[0]
        data = _decode_encoded_word(match.group(2), match.group(3))
        if data is None:
            pieces.append((match.group(0), None))
            continue
        last = pieces[-1] if pieces else None
        if last is not None and isinstance(last[0], bytes) and (last[1] or "").lower() == charset.lower():
            # Chinese mailers split multibyte characters across words; join bytes before decoding.
            pieces[-1] = (last[0] + data, last[1])
        else:
            pieces.append((data, charset))
    if pos < len(text):
        pieces.append((text[pos:], None))
    out: list[str] = []
    for payload, charset_name in pieces:
        if isinstance(payload, bytes):
            out.append(decode_bytes(payload, charset_name))
        else:
            out.append(_literal_to_str(payload, fallback_charset))
    return _CONTROL_RE.sub(" ", "".join(out)).strip()


class _TolerantPolicy(EmailPolicy):
    """policy.default, except a header the stdlib parser crashes on is handed back as raw text."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """Parse a header into a header object, falling back to the raw string on parser bugs."""
        try:
            return super().header_fetch_parse(name, value)
        except (IndexError, TypeError, ValueError, HeaderParseError):
            # Message's compat32-era helpers (get_content_type, get_param...) work on plain str.
            return value


_PARSE_POLICY = _TolerantPolicy()


def _raw_headers(part: Message, name: str) -> list[str]:
    # raw_items() gives the undecoded source value; the policy's own decoding maps "gb2312" to the
    # strict codec and mangles GBK-only characters, so we decode these values ourselves.
    lowered = name.lower()
    return [str(value) for key, value in part.raw_items() if key.lower() == lowered]


def _raw_header(part: Message, name: str) -> str | None:
    values = _raw_headers(part, name)
    return values[0] if values else None


def _get_param(part: Message, header: str, param: str, fallback_charset: str | None) -> str | None:
    raw = _raw_header(part, header)
    if raw is None:
        return None
    # A compat32 scratch message exposes RFC 2231 parameters as (charset, language, bytes-as-latin1)
    # so we can apply our own charset fallbacks instead of the stdlib's strict ones. Raw 8-bit bytes
    # travel as latin-1 characters because compat32 replaces surrogate escapes with U+FFFD.
    scratch = Message()
    scratch[header] = _unfold(raw).encode("utf-8", "surrogateescape").decode("latin-1")
    try:
        value = scratch.get_param(param, header=header)
    except (TypeError, ValueError, IndexError):
        # The stdlib chokes on some malformed RFC 2231 continuations; treat them as absent.
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _language, encoded = value
        return decode_bytes(str(encoded).encode("latin-1", "replace"), charset or fallback_charset)
    as_source = str(value).encode("latin-1", "replace").decode("ascii", "surrogateescape")
    return decode_header_value(as_source, fallback_charset)


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """A mailbox: optional display name plus address."""

    name: str | None
    address: str

    def __str__(self) -> str:
        """Human-readable ``Name <address>`` form (not RFC 2047 encoded)."""
        return f"{self.name} <{self.address}>" if self.name else self.address


def _parse_address_list(values: Iterable[str], fallback_charset: str | None) -> tuple[EmailAddress, ...]:
    result: list[EmailAddress] = []
    # Addresses are split before decoding because decoded display names may contain commas.
    for name, address in email.utils.getaddresses([_unfold(v) for v in values]):
        address = _literal_to_str(address, fallback_charset).strip()
        if not address:
            continue
        decoded = decode_header_value(name, fallback_charset) if name else ""
        result.append(EmailAddress(decoded or None, address))
    return tuple(result)


def parse_address(value: str) -> EmailAddress | None:
    """Parse one address such as ``"王小明 <ming@example.com>"`` or an RFC 2047 encoded form."""
    found = _parse_address_list([value], None)
    return found[0] if found else None


_MSGID_RE = re.compile(r"<([^<>\s]+)>")


def _parse_msgids(value: str | None) -> tuple[str, ...]:
    """Extract message-ids as ``<id@host>``, tolerating comments and missing angle brackets."""
    if not value:
        return ()
    text = _unfold(value)
    found = [f"<{m}>" for m in _MSGID_RE.findall(text)]
    if not found:
        found = [f"<{tok.strip('<>')}>" for tok in text.split() if "@" in tok]
    return tuple(dict.fromkeys(found))


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(_unfold(value).strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
