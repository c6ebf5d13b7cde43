"""Signed visitor tokens: a web-chat visitor's identity without an account (HMAC with the install secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from kefu.channels.config import secret_key, token_days

_DOMAIN = b"kefu-visitor-v1:"


@dataclass(frozen=True, slots=True)
class Visitor:
    """A verified visitor: which web-chat inbox and which browser."""

    inbox_id: int
    visitor_id: str
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(body: str) -> str:
    return _b64(hmac.new(secret_key().encode(), _DOMAIN + body.encode("ascii"), hashlib.sha256).digest())


def new_visitor_id() -> str:
    """A random visitor id."""
    return secrets.token_urlsafe(18)


def issue(inbox_id: int, visitor_id: str, now: float | None = None) -> str:
    """A token binding the visitor to one inbox."""
    body = _b64(json.dumps({"i": inbox_id, "v": visitor_id, "t": int(now or time.time())}).encode())
    return f"{body}.{_sign(body)}"


def verify(token: str | None, now: float | None = None) -> Visitor | None:
    """The visitor if the token is authentic and not expired (KEFU_WIDGET_TOKEN_DAYS, default 30)."""
    if not token or token.count(".") != 1:
        return None
    body, sig = token.split(".")
    try:
        if not hmac.compare_digest(_sign(body), sig):
            return None
        data = json.loads(_unb64(body))
        visitor = Visitor(inbox_id=int(data["i"]), visitor_id=str(data["v"]), issued_at=int(data["t"]))
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None
    max_age = token_days() * 86400
    if (now or time.time()) - visitor.issued_at > max_age:
        return None
    return visitor
