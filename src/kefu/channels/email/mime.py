"""Email MIME protocol layer: parsing, sanitizing, threading, loop protection and reply building."""

# Everything here is pure (bytes in, values out); IMAP/SMTP transport and persistence live elsewhere.

from __future__ import annotations

import base64
import binascii
import codecs
import email.message
import email.policy
import email.utils
import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.policy import EmailPolicy
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import nh3

from kefu.channels.types import Attachment, EventType, InboundMessage

__all__ = [
    "EmailAddress",
    "ParsedEmail",
    "build_reply",
    "decode_bytes",
    "decode_header_value",
    "extract_ticket_number",
    "html_to_text",
    "is_auto_reply",
    "parse_address",
    "parse_email",
    "reply_subject",
    "sanitize_html",
    "strip_quoted_reply",
    "to_inbound",
]

CHANNEL = "email"

# ---------------------------------------------------------------------------
# Charsets
# ---------------------------------------------------------------------------

# Labels seen in the wild that Python's codec registry does not know, or that mean "unknown".
_CHARSET_ALIASES: dict[str, str] = {
    "x-gbk": "gbk",
    "x-euc-cn": "gb2312",
    "cn-gb": "gb2312",
    "cn-big5": "big5",
    "x-x-big5": "big5",
    "x-big5": "big5",
    "big-5": "big5",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "default": "",
}

# Chinese mailers label text with the legacy charset but routinely emit characters that only
# exist in its superset (GBK-only hanzi in "gb2312" mail, HKSCS / Microsoft extensions in "big5").
_CHARSET_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "cp950": ("cp950", "big5hkscs"),
    "big5hkscs": ("big5hkscs", "cp950"),
    "ascii": ("utf-8",),
    "euc_kr": ("cp949",),
}

# Scoring the whole of a large body is pointless; this many non-ASCII characters decide it.
_GUESS_SAMPLE = 4000


def _candidate_codecs(charset: str | None) -> list[str]:
    if not charset:
        return []
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name or not name.isascii():
        return []
    try:
        canonical = codecs.lookup(name).name
    except (LookupError, ValueError):
        return []
    result: list[str] = []
    for codec in (*_CHARSET_SUPERSETS.get(canonical, ()), canonical):
        if codec not in result:
            result.append(codec)
    return result


def _non_ascii_sample(text: str) -> list[str]:
    sample: list[str] = []
    for ch in text:
        if ord(ch) > 0x7F:
            sample.append(ch)
            if len(sample) >= _GUESS_SAMPLE:
                break
    return sample


def _gb_score(text: str) -> float:
    """Share of non-ASCII characters inside GB2312 (the ~7,000 everyday simplified hanzi)."""
    sample = _non_ascii_sample(text)
    if not sample:
        return 1.0
    hits = 0
    for ch in sample:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        hits += 1
    return hits / len(sample)


def _big5_score(text: str) -> float:
    """Share of non-ASCII characters in Big5's symbol + frequent-hanzi rows (lead bytes A1-C6)."""
    sample = _non_ascii_sample(text)
    if not sample:
        return 1.0
    hits = 0
    for ch in sample:
        try:
            encoded = ch.encode("cp950")
        except UnicodeEncodeError:
            continue
        if len(encoded) == 2 and 0xA1 <= encoded[0] <= 0xC6:
            hits += 1
    return hits / len(sample)


def _guess_cjk(data: bytes) -> str | None:
    # Big5 bytes usually also decode as GB18030 (and vice versa) into rare-character garbage, so
    # we decode both ways and keep the reading made of common characters.
    best: str | None = None
    best_score = -1.0
    scorers: tuple[tuple[str, Callable[[str], float]], ...] = (
        ("gb18030", _gb_score),
        ("cp950", _big5_score),
        ("big5hkscs", _big5_score),
    )
    for codec, scorer in scorers:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = scorer(text)
        if score > best_score:
            best, best_score = text, score
    return best


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode text bytes, tolerating wrong or missing charset labels common in Chinese mail."""
    if not data:
        return ""
    candidates = _candidate_codecs(charset)
    for codec in [*candidates, "utf-8"]:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    guessed = _guess_cjk(data)
    if guessed is not None:
        return guessed
    fallback = candidates[0] if candidates else "utf-8"
    try:
        return data.decode(fallback, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_ALLOWED_TAGS: frozenset[str] = frozenset(nh3.ALLOWED_TAGS) | {"font", "tfoot"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ALLOWED_ATTRIBUTES["*"] = {"style", "title", "dir", "lang", "align"}
_ALLOWED_ATTRIBUTES["font"] = {"color", "face", "size"}
for _table_tag in ("table", "td", "th", "tr"):
    _ALLOWED_ATTRIBUTES.setdefault(_table_tag, set()).update({"width", "height", "valign", "bgcolor"})
_ALLOWED_ATTRIBUTES["table"].update({"border", "cellpadding", "cellspacing"})

# Inline style is kept for readability, but only presentational properties: no position (overlay
# phishing), no display (hidden text), no url()-bearing background shorthand.
# fmt: off
_SAFE_STYLE_PROPERTIES = frozenset({
    "background-color", "border", "border-bottom", "border-collapse", "border-color", "border-left",
    "border-right", "border-style", "border-top", "border-width", "color", "direction", "font",
    "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
    "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom", "margin-left",
    "margin-right", "margin-top", "max-width", "padding", "padding-bottom", "padding-left",
    "padding-right", "padding-top", "text-align", "text-decoration", "text-indent",
    "vertical-align", "white-space", "width", "word-break",
})
# fmt: on
# "data" is allowed here only so the attribute filter can admit raster data: images; every other
# data: URL is dropped there. javascript:, vbscript: etc. are never in this set.
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
_CLEAN_CONTENT_TAGS = frozenset({"script", "style", "title", "noscript", "template"})
_SAFE_DATA_IMAGE_RE = re.compile(r"^data:image/(?:png|jpe?g|gif|webp|bmp);base64,", re.I)
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.I)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "action", "background", "poster"})


def _make_attribute_filter(allow_remote_images: bool) -> Callable[[str, str, str], str | None]:
    def _filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        lowered = value.strip().lower()
        if lowered.startswith("data:"):
            is_image = tag == "img" and attribute == "src" and _SAFE_DATA_IMAGE_RE.match(lowered)
            return value if is_image else None
        # Relative URLs would resolve against our own agent UI, so they are never meaningful here.
        if not _SCHEME_RE.match(lowered):
            return None
        if not allow_remote_images and tag == "img" and lowered.startswith(("http:", "https:")):
            return None
        return value

    return _filter


_FILTER_REMOTE_OK = _make_attribute_filter(True)
_FILTER_NO_REMOTE = _make_attribute_filter(False)


def sanitize_html(html: str, *, allow_remote_images: bool = True) -> str:
    """Sanitize untrusted email HTML with nh3: no scripts, handlers, javascript: or relative URLs."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_FILTER_REMOTE_OK if allow_remote_images else _FILTER_NO_REMOTE,
        strip_comments=True,
        link_rel="noopener noreferrer",
        url_schemes=set(_URL_SCHEMES),
        filter_style_properties=set(_SAFE_STYLE_PROPERTIES),
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()


class _HtmlToText(HTMLParser):
    """Render HTML as plain text; blockquotes become ``> `` lines so quote stripping still works."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
    # fmt: off
    _BLOCK = frozenset({
        "address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "tr", "ul",
    })
    # fmt: on
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._buf: list[str] = []
        self._skip = 0
        self._quote = 0
        self._pre = 0

    def _flush(self, *, force: bool = False) -> None:
        line = "".join(self._buf)
        self._buf = []
        if not self._pre:
            line = re.sub(r"\s+", " ", line).strip()
        if line or force:
            prefix = "> " * self._quote
            self._lines.append((prefix + line).rstrip() if prefix else line)

    def _blank(self) -> None:
        self._flush()
        blank = ">" * self._quote if self._quote else ""
        if self._lines and self._lines[-1] != blank:
            self._lines.append(blank)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element."""
        if tag in self._SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "br":
            self._flush(force=True)
        elif tag in ("td", "th"):
            self._buf.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._buf.append(f"[{alt}]")
        elif tag in self._BLOCK:
            if tag in self._PARAGRAPH or tag == "blockquote":
                self._blank()
            else:
                self._flush()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._buf.append("- ")

    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip or tag not in self._BLOCK:
            return
        if tag in self._PARAGRAPH or tag == "blockquote":
            self._blank()
        else:
            self._flush()
        if tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        """Collect text content."""
        if self._skip:
            return
        if self._pre:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._flush(force=True)
                self._buf.append(part)
        else:
            self._buf.append(data)

    def text(self) -> str:
        """Return the rendered text."""
        self.close()
        self._flush()
        rendered = "\n".join(self._lines)
        return re.sub(r"\n{3,}", "\n\n", rendered).strip()


def html_to_text(html: str) -> str:
    """Convert HTML to readable plain text (scripts/styles dropped, quotes as ``> ``)."""
    parser = _HtmlToText()
    parser.feed(html)
    return parser.text()


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Quote / signature stripping
# ---------------------------------------------------------------------------

_ATTRIBUTION_RES = (
    re.compile(r"^On\b.{0,400}\bwrote\s*:$", re.IGNORECASE | re.DOTALL),
    # 163/QQ "在 2024-01-02 10:00:00，… 写道：", Gmail zh "… 于2024年1月2日… 写道：", zh-TW "於 … 寫道："
    re.compile(r"^.{0,400}(?:写道|寫道)\s*[:：]$", re.DOTALL),
    re.compile(r"^Le\b.{0,400}\ba écrit\s*:$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^Am\b.{0,400}\bschrieb\b.{0,200}:$", re.IGNORECASE | re.DOTALL),
)
# A wrapped attribution's first line still shows its start: "On …", "在 …", a date, or an address.
_ATTRIBUTION_START_RE = re.compile(r"^\s*(?:On|Le|Am)\b|^\s*(?:在|於|于)|\d|@|<", re.IGNORECASE)
_SEPARATOR_RE = re.compile(
    r"^[-—=_\s]*(?:-{2,}|_{2,}|—{2,})\s*"
    r"(?:Original(?:\s+Message)?|原始邮件|原始郵件|邮件原件|郵件原件|原邮件|原郵件|回覆的郵件)"
    r"\s*(?:-{2,}|_{2,}|—{2,})[-—=_\s]*$",
    re.IGNORECASE,
)
_UNDERSCORE_LINE_RE = re.compile(r"^_{10,}$")
_HEADER_FROM_RE = re.compile(r"^\*?(?:From|发件人|發件人|寄件者|寄件人)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\*?(?:Sent|Date|To|Subject|发送时间|發送時間|时间|時間|日期|寄件日期|收件人|收件者|主题|主旨)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE_RE = re.compile(
    r"^(?:Sent from my .{1,60}|Sent from Mail for Windows.*|Get Outlook for .{1,40}"
    r"|Sent from (?:Yahoo|Gmail).{0,40}"
    r"|发自我的.{1,40}|從我的.{1,40}傳送|从我的.{1,40}发送|寄自我的.{1,40})$",
    re.IGNORECASE,
)


def _is_quote_line(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_end(lines: list[str], index: int) -> int | None:
    """If an attribution line ("On … wrote:") starts at ``index`` return its last line index."""
    if _is_quote_line(lines[index]) or not lines[index].strip():
        return None
    # Gmail wraps long attributions, so try the line joined with up to two following ones.
    for span in range(1, 4):
        if index + span > len(lines):
            break
        chunk = lines[index : index + span]
        if any(_is_quote_line(line) or not line.strip() for line in chunk[1:]):
            break
        if span > 1 and not _ATTRIBUTION_START_RE.search(chunk[0]):
            break
        candidate = " ".join(line.strip() for line in chunk).strip()
        # A date is always present in real attributions; requiring a digit avoids cutting at
        # ordinary sentences such as "他在信中写道：".
        if re.search(r"\d", candidate) and any(rx.match(candidate) for rx in _ATTRIBUTION_RES):
            return index + span - 1
    return None


def _is_header_block(lines: list[str], index: int) -> bool:
    if not _HEADER_FROM_RE.match(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 5] if line.strip()]
    return any(_HEADER_NEXT_RE.match(line) for line in following[:3])


def strip_quoted_reply(text: str) -> str:
    """Drop quoted history (attributions, Original Message blocks, ``>`` lines) and signatures."""
    if not text:
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _SEPARATOR_RE.match(stripped) or _is_header_block(lines, index):
            break
        if _UNDERSCORE_LINE_RE.match(stripped) and any(
            _HEADER_FROM_RE.match(nxt.strip()) for nxt in lines[index + 1 : index + 3]
        ):
            break
        if line.rstrip() == "--":  # RFC 3676 signature delimiter ("-- ")
            break
        end = _attribution_end(lines, index)
        if end is not None:
            following = next((ln for ln in lines[end + 1 :] if ln.strip()), "")
            if not _is_quote_line(following):
                # Top-posted reply whose quoted original is not ">"-prefixed: everything below goes.
                break
            index = end + 1
            continue
        if not _is_quote_line(line):
            kept.append(line.rstrip())
        index += 1

    while kept and (not kept[-1].strip() or _MOBILE_SIGNATURE_RE.match(kept[-1].strip())):
        kept.pop()
    collapsed: list[str] = []
    for line in kept:
        if not line.strip() and collapsed and not collapsed[-1].strip():
            continue
        collapsed.append(line)
    result = "\n".join(collapsed).strip()
    # A mail that is nothing but quoted text (e.g. a bare forward) is better shown whole than empty.
    return result or text.strip()


# ---------------------------------------------------------------------------
# Ticket numbers and subjects
# ---------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _ticket_regex(prefix_pattern: str) -> re.Pattern[str]:
    return re.compile(
        r"[\[【]\s*#?\s*((?:" + prefix_pattern + r")\s*[-_]?\s*[0-9]+)\s*[\]】]",
        re.IGNORECASE,
    )


def extract_ticket_number(subject: str | None, prefix_pattern: str = "KF") -> str | None:
    """Return the bracketed ticket tag in a subject (``prefix_pattern`` is a regex), e.g. ``"KF-000123"``."""
    if not subject:
        return None
    # NFKC folds full-width brackets, letters, digits and hyphens typed with Chinese input methods.
    match = _ticket_regex(prefix_pattern).search(unicodedata.normalize("NFKC", subject))
    if match is None:
        return None
    return re.sub(r"\s+", "", match.group(1)).upper()


_REPLY_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|回复|回覆|答复|答覆)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def reply_subject(subject: str, ticket_tag: str | None = None) -> str:
    """Prefix ``Re: `` exactly once (folding Re:/回复:/回覆: chains) and ensure the ticket tag is kept."""
    base = _CONTROL_RE.sub(" ", subject or "").strip()
    base = _REPLY_PREFIX_RE.sub("", base).strip()
    if ticket_tag:
        tag = ticket_tag.strip().strip("[]")
        if tag and tag.lower() not in base.lower():
            base = f"[{tag}] {base}".strip()
    return f"Re: {base}" if base else "Re:"


# ---------------------------------------------------------------------------
# Loop protection
# ---------------------------------------------------------------------------

_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-autogenerated", "x-mail-autoreply", "x-autoreply-from")
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_AUTO_SENDER_RE = re.compile(
    r"^(?:mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)(?:[+\-_.].*)?$",
    re.IGNORECASE,
)
_AUTO_SUBJECT_RE = re.compile(
    r"^\s*(?:"
    r"auto(?:matic)?[- ]?(?:reply|response|antwort)\b"
    r"|out of (?:the )?office(?:\s+(?:auto[- ]?reply|reply|notice|notification))?\s*(?:[:：\-–—]|$)"
    r"|undeliverable\b|undelivered mail\b|delivery status notification\b"
    r"|mail delivery (?:failed|failure|subsystem)"
    r"|delivery (?:has )?failed\b|delivery failure\b|returned mail\b|failure notice\b|message not delivered\b"
    r"|自动回复|自動回覆|自動回復|自动答复|自動答覆|自动应答|系统退信|系統退信|退信|无法投递|無法投遞|无法送达|無法傳遞|未能送达"
    r")",
    re.IGNORECASE,
)


def _header_pairs(msg: ParsedEmail | Message) -> list[tuple[str, str]]:
    if isinstance(msg, ParsedEmail):
        return list(msg.headers)
    return [(key, decode_header_value(str(value))) for key, value in msg.raw_items()]


def is_auto_reply(msg: ParsedEmail | Message) -> bool:
    """True for machine-generated mail (RFC 3834 and common heuristics) that must not be auto-answered."""
    headers: dict[str, list[str]] = {}
    for key, value in _header_pairs(msg):
        headers.setdefault(key.lower(), []).append(value.strip())

    def first(name: str) -> str:
        values = headers.get(name)
        return values[0] if values else ""

    auto_submitted = first("auto-submitted").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if any(name in headers for name in _AUTO_HEADERS):
        return True
    if first("precedence").lower() in _BULK_PRECEDENCE:
        return True
    if "list-id" in headers or "list-unsubscribe" in headers:
        return True
    if "return-path" in headers and first("return-path").replace(" ", "") in ("<>", ""):
        return True
    content_type = first("content-type").lower()
    if content_type.startswith("multipart/report"):
        return True
    senders = _parse_address_list(headers.get("from", []) + headers.get("sender", []), None)
    if any(_AUTO_SENDER_RE.match(addr.address.rsplit("@", 1)[0]) for addr in senders):
        return True
    return bool(_AUTO_SUBJECT_RE.match(first("subject")))


# ---------------------------------------------------------------------------
# Building replies
# ---------------------------------------------------------------------------

# 7bit forces base64/quoted-printable bodies, so relays without 8BITMIME cannot mangle Chinese text.
_SMTP_7BIT = email.policy.SMTP.clone(cte_type="7bit")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def _single_line(value: str) -> str:
    return _CONTROL_RE.sub(" ", value).strip()


def _header_address(value: EmailAddress | str) -> Address:
    parsed = parse_address(value) if isinstance(value, str) else value
    if parsed is None:
        raise ValueError(f"invalid email address: {value!r}")
    try:
        return Address(display_name=_single_line(parsed.name or ""), addr_spec=_single_line(parsed.address))
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise ValueError(f"invalid email address: {parsed.address!r}") from exc


def _normalize_msgid(value: str) -> str:
    ids = _parse_msgids(value)
    if not ids:
        raise ValueError(f"invalid message-id: {value!r}")
    return ids[0]


def _references_chain(references: Sequence[str], in_reply_to: str | None, limit: int) -> list[str]:
    # Garbage entries (no "@", no brackets) are dropped rather than failing the whole reply.
    chain = [msgid for ref in references for msgid in _parse_msgids(ref)]
    if in_reply_to:
        chain.append(in_reply_to)
    chain = list(dict.fromkeys(chain))
    if limit > 0 and len(chain) > limit:
        # Keep the thread root (what most clients thread on) plus the most recent ancestors.
        chain = [chain[0], *chain[-(limit - 1) :]] if limit > 1 else chain[-1:]
    return chain


def _split_content_type(content_type: str) -> tuple[str, str]:
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype:
        return "application", "octet-stream"
    return maintype.strip().lower(), subtype.split(";", 1)[0].strip().lower()


def build_reply(
    *,
    from_addr: EmailAddress | str,
    to: Sequence[EmailAddress | str] | EmailAddress | str,
    text: str,
    message_id_domain: str,
    subject: str | None = None,
    parent: ParsedEmail | None = None,
    html: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] | None = None,
    cc: Sequence[EmailAddress | str] = (),
    reply_to: EmailAddress | str | None = None,
    attachments: Sequence[Attachment] = (),
    automatic: bool = False,
    ticket_tag: str | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    max_references: int = 20,
) -> EmailMessage:
    """Build a threaded UTF-8 reply (Re: subject, Message-ID, In-Reply-To, capped References)."""
    # Threading comes from ``parent`` unless in_reply_to/references/subject are passed explicitly.
    # automatic=True marks machine-sent mail (Auto-Submitted: auto-replied) for loop protection.
    if parent is not None:
        if in_reply_to is None and not parent.message_id_generated:
            # A synthesized id never existed in the customer's mailbox; threading on it is useless.
            in_reply_to = parent.message_id
        if references is None:
            references = parent.references or ((parent.in_reply_to,) if parent.in_reply_to else ())
        if subject is None:
            subject = parent.subject
    if subject is None:
        raise ValueError("subject or parent is required")

    try:
        domain = message_id_domain.strip().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid message-id domain: {message_id_domain!r}") from exc
    if not _DOMAIN_RE.match(domain):
        raise ValueError(f"invalid message-id domain: {message_id_domain!r}")

    parent_id = _normalize_msgid(in_reply_to) if in_reply_to else None
    chain = _references_chain(references or (), parent_id, max_references)

    msg = EmailMessage(policy=_SMTP_7BIT)
    msg["From"] = _header_address(from_addr)
    recipients = [to] if isinstance(to, (str, EmailAddress)) else list(to)
    if not recipients:
        raise ValueError("at least one recipient is required")
    msg["To"] = tuple(_header_address(r) for r in recipients)
    if cc:
        msg["Cc"] = tuple(_header_address(r) for r in cc)
    if reply_to is not None:
        msg["Reply-To"] = _header_address(reply_to)
    msg["Subject"] = reply_subject(subject, ticket_tag)
    msg["Date"] = email.utils.format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = _normalize_msgid(message_id) if message_id else email.utils.make_msgid(domain=domain)
    if parent_id:
        msg["In-Reply-To"] = parent_id
    if chain:
        msg["References"] = " ".join(chain)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        # Ask Exchange/Outlook not to answer our automatic mail with their own out-of-office.
        msg["X-Auto-Response-Suppress"] = "All"

    msg.set_content(text, subtype="plain", charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")

    for attachment in attachments:
        if attachment.data is None:
            raise ValueError(f"attachment {attachment.filename!r} has no data")
        maintype, subtype = _split_content_type(attachment.content_type)
        filename = _clean_filename(attachment.filename) or "attachment"
        html_part = msg.get_body(preferencelist=("html",)) if html else None
        if attachment.inline and attachment.content_id and isinstance(html_part, MIMEPart):
            html_part.add_related(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{attachment.content_id.strip('<>')}>",
                filename=filename,
                disposition="inline",
            )
        else:
            msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


# ---------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------


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
