"""Building replies: threaded UTF-8 messages with capped References."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart

from kefu.channels.email.mime.headers import _CONTROL_RE, EmailAddress, _parse_msgids, parse_address
from kefu.channels.email.mime.parsing import ParsedEmail, _clean_filename
from kefu.channels.email.mime.subjects import reply_subject
from kefu.channels.types import Attachment

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
    standalone: bool = False,
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
    # A standalone message (a periodic report) starts its own thread: no "Re:" on a mail nobody wrote first.
    msg["Subject"] = _single_line(subject) if standalone else reply_subject(subject, ticket_tag)
    msg["Date"] = email.utils.format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = _normalize_msgid(message_id) if message_id else email.utils.make_msgid(domain=domain)
    if parent_id:
        msg["In-Reply-To"] = parent_id
    if chain:
        msg["References"] = " ".join(chain)
    if automatic:
        # RFC 3834: generated mail (not an answer to a message) is "auto-generated".
        msg["Auto-Submitted"] = "auto-generated" if standalone else "auto-replied"
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
