"""Signed visitor tokens: a web-chat visitor's identity without an account (kefu.core.signing)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from kefu.channels.config import token_days
from kefu.core.signing import Signer

_SIGNER = Signer(b"kefu-visitor-v1:")


@dataclass(frozen=True, slots=True)
class Visitor:
    """A verified visitor: which web-chat inbox and which browser."""

    inbox_id: int
    visitor_id: str
    issued_at: int


def new_visitor_id() -> str:
    """A random visitor id."""
    return secrets.token_urlsafe(18)


def issue(inbox_id: int, visitor_id: str, now: float | None = None) -> str:
    """A token binding the visitor to one inbox."""
    return _SIGNER.sign({"i": inbox_id, "v": visitor_id}, now)


def verify(token: str | None, now: float | None = None) -> Visitor | None:
    """The visitor if the token is authentic and not expired (KEFU_WIDGET_TOKEN_DAYS, default 30)."""

    def read(data: dict[str, Any]) -> Visitor:
        return Visitor(inbox_id=int(data["i"]), visitor_id=str(data["v"]), issued_at=int(data["t"]))

    return _SIGNER.unsign(token, token_days() * 86400, read, now)
