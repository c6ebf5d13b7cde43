"""Email MIME protocol layer: parsing, sanitizing, threading, loop protection and reply building.

Everything here is pure (bytes in, values out); IMAP/SMTP transport and persistence live elsewhere. One module
per concern: charsets, headers, html, parsing, quotes, subjects, loops, replies, normalize.
"""

from __future__ import annotations

from kefu.channels.email.mime.charsets import decode_bytes
from kefu.channels.email.mime.headers import EmailAddress, decode_header_value, parse_address
from kefu.channels.email.mime.html import html_to_text, sanitize_html
from kefu.channels.email.mime.loops import is_auto_reply
from kefu.channels.email.mime.normalize import to_inbound
from kefu.channels.email.mime.parsing import ParsedEmail, parse_email
from kefu.channels.email.mime.quotes import strip_quoted_reply
from kefu.channels.email.mime.replies import build_reply
from kefu.channels.email.mime.subjects import extract_ticket_number, reply_subject

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
