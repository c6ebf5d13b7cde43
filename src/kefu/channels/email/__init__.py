"""Email channel protocol layer (MIME parsing, sanitizing, threading, loop protection)."""

from kefu.channels.email.mime import (
    EmailAddress,
    ParsedEmail,
    build_reply,
    decode_bytes,
    decode_header_value,
    extract_ticket_number,
    html_to_text,
    is_auto_reply,
    parse_address,
    parse_email,
    reply_subject,
    sanitize_html,
    strip_quoted_reply,
    to_inbound,
)

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
