"""Agent-set email fields of a reply: the subject and Cc addresses, validated before they reach the outbox.

Stored on the message as ``meta["email"] = {"subject": ..., "cc": [...]}``; the email adapter sends them as the
Subject (still "Re: … [ticket]" with the thread's In-Reply-To/References, so threading is kept) and Cc headers, and
adds the Cc addresses to the SMTP envelope.
"""

from __future__ import annotations

import re
from typing import Any

from kefu.core.errors import InvalidInput

MAX_CC = 10
MAX_SUBJECT = 250
# A practical address check (RFC 5321 sizes, dot-atom local part, LDH labels); no display names, no comments.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


class BadAddress(InvalidInput):
    """A Cc entry that is not an email address (``value`` names it for the agent); raised with `.said`."""

    @property
    def value(self) -> str:
        """The entry as typed (the reply page names it beside the field)."""
        return str(self.params.get("value", ""))


def parse_cc(text: str) -> list[str]:
    """Comma/semicolon/space-separated addresses → lower-cased, deduplicated list; a bad one is a 422 naming it."""
    parts = [p.strip().strip("<>") for p in re.split(r"[,;，；\s]+", text or "") if p.strip()]
    out: list[str] = []
    for part in parts:
        if len(part) > 254 or not _ADDRESS.match(part):
            raise BadAddress.said("err_channels_bad_cc", value=part[:80])
        address = part.lower()
        if address not in out:
            out.append(address)
    if len(out) > MAX_CC:
        raise InvalidInput.said("err_channels_too_many_cc", n=MAX_CC)
    return out


def clean_subject(text: str) -> str:
    """One line (no header injection), trimmed to MAX_SUBJECT characters."""
    return " ".join((text or "").split())[:MAX_SUBJECT]


def email_meta(subject: str, cc: str, default_subject: str | None) -> dict[str, Any]:
    """The ``meta["email"]`` of an agent's email reply (empty when nothing differs from the thread's defaults)."""
    out: dict[str, Any] = {}
    clean = clean_subject(subject)
    if clean and clean != (default_subject or ""):
        out["subject"] = clean
    addresses = parse_cc(cc)
    if addresses:
        out["cc"] = addresses
    return out
