"""Unguessable per-conversation reply tokens and sender authentication for inbound mail.

Email threading used to trust anything a stranger can type: a subject tag `[KF-000002]` (sequential ticket numbers)
or a Message-ID lookup. Now a mail joins an existing conversation only when it carries one of *our* tokens — in
the In-Reply-To/References of a Message-ID we generated, or in the plus-tag of the reply address we sent — and its
sender is that conversation's customer, and its Authentication-Results do not say the From is forged. The token
is an HMAC of the conversation id under the install secret, so no table stores it and nothing about it is
sequential. Reply-To never redirects replies (see EmailAdapter.recipient).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from kefu.channels import config as channel_config

TOKEN_LENGTH = 16  # base32 characters: 80 bits
_MSGID_RE = re.compile(r"^<?kefu\.(\d{1,18})\.([a-z2-7]{16})\.[A-Za-z0-9_-]+@[^>]+>?$")
_PLUS_RE = re.compile(r"^[^+@]+\+c(\d{1,18})\.([a-z2-7]{16})@", re.IGNORECASE)
_AUTH_RESULT_RE = re.compile(r"\b(dmarc|spf|dkim)\s*=\s*([a-z]+)", re.IGNORECASE)


def conversation_token(conversation_id: int) -> str:
    """The reply token of a conversation (deterministic, secret-keyed)."""
    mac = hmac.new(
        channel_config.secret_key().encode(), f"email-thread:{conversation_id}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:TOKEN_LENGTH]


def _check(conversation_id: str, token: str) -> int | None:
    cid = int(conversation_id)
    return cid if hmac.compare_digest(conversation_token(cid), token.lower()) else None


def make_message_id(conversation_id: int, domain: str) -> str:
    """A Message-ID that names its conversation with a verifiable token (`<kefu.<id>.<token>.<random>@domain>`)."""
    return f"<kefu.{conversation_id}.{conversation_token(conversation_id)}.{secrets.token_urlsafe(9)}@{domain}>"


def reply_address(address: str, conversation_id: int) -> str:
    """The inbox address plus-tagged with the conversation token (`support+c12.<token>@example.com`)."""
    local, sep, domain = address.partition("@")
    if not sep:
        return address
    return f"{local}+c{conversation_id}.{conversation_token(conversation_id)}@{domain}"


def base_address(address: str) -> str:
    """An address without its plus-tag, lower case (how receivers map a tagged address to its inbox)."""
    local, sep, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}{sep}{domain}"


def conversation_from_message_ids(ids: Iterable[str]) -> int | None:
    """The conversation named by the first of our own Message-IDs among `ids` whose token verifies."""
    for value in ids:
        m = _MSGID_RE.match(value.strip())
        if m and (cid := _check(m.group(1), m.group(2))) is not None:
            return cid
    return None


def conversation_from_addresses(addresses: Iterable[str]) -> int | None:
    """The conversation named by a plus-tagged reply address among `addresses` whose token verifies."""
    for value in addresses:
        m = _PLUS_RE.match(value.strip())
        if m and (cid := _check(m.group(1), m.group(2))) is not None:
            return cid
    return None


def recipient_addresses(raw: Mapping[str, Any]) -> list[str]:
    """To, Cc and the envelope-ish Delivered-To / X-Original-To headers of a normalized mail."""
    out = [str(a.get("address") or "") for key in ("to", "cc") for a in raw.get(key) or [] if isinstance(a, dict)]
    for pair in raw.get("headers") or []:
        if (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and str(pair[0]).lower()
            in (
                "delivered-to",
                "x-original-to",
                "envelope-to",
            )
        ):
            out.append(str(pair[1]).strip().strip("<>"))
    return [a for a in out if a]


def authentication(raw: Mapping[str, Any], authserv_id: str | None = None) -> dict[str, str]:
    """dmarc/spf/dkim verdicts from the trusted Authentication-Results header (RFC 8601).

    With `authserv_id` only headers stamped by that server count (anything else may come from the sender);
    without it the topmost header counts, which the receiving MTA prepends above anything the sender wrote.
    """
    headers = [
        str(p[1])
        for p in raw.get("headers") or []
        if isinstance(p, list | tuple) and len(p) == 2 and str(p[0]).lower() == "authentication-results"
    ]
    if authserv_id:
        wanted = authserv_id.strip().lower()
        headers = [h for h in headers if h.split(";", 1)[0].strip().lower().split()[:1] == [wanted]]
    if not headers:
        return {}
    verdicts: dict[str, str] = {}
    for method, result in _AUTH_RESULT_RE.findall(headers[0]):
        verdicts.setdefault(method.lower(), result.lower())
    return verdicts


def sender_verdict(raw: Mapping[str, Any], *, authserv_id: str | None = None, require: bool = False) -> str:
    """`verified`, `unverified` (authentication says the From is forged) or `unknown` (no results to go on)."""
    v = authentication(raw, authserv_id)
    dmarc, spf, dkim = v.get("dmarc"), v.get("spf"), v.get("dkim")
    if dmarc in ("fail", "permerror"):
        return "unverified"
    if dmarc == "pass":
        return "verified"
    # Without DMARC a DKIM pass may be any domain's signature, so it does not outweigh an SPF failure.
    if spf in ("fail", "softfail", "permerror"):
        return "unverified"
    if spf == "pass" or dkim == "pass":
        return "verified"
    return "unverified" if require else "unknown"
