"""Signed, timestamped tokens that need no table: `<base64url JSON>.<base64url HMAC-SHA256>` under the install secret.

One construction for every such token (web-chat visitors, identity-claim links). Each kind signs under its own
domain prefix, so a token of one kind never verifies as another; the issue time travels inside ("t") and the reader
decides the maximum age. `keyed_hash` is the one construction for storing a value only as a keyed hash (a privacy
request's subject, a call-back requester's client address): each purpose hashes under a key of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kefu.core.config import get_settings

T = TypeVar("T")


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Inverse of b64encode (restores the padding)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def purpose_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose derived from the install secret: SHA-256 over `<purpose>:` and the secret."""
    # Domain separation: a hash kept for one purpose never equals (nor helps forge) a MAC made for another from the
    # same secret. The construction is the one privacy subjects were always hashed with, so their stored hashes hold.
    return hashlib.sha256(f"{purpose}:".encode() + secret.encode()).digest()


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 (hex) of `value` under `purpose`'s key: recognises the value later without storing it."""
    return hmac.new(purpose_key(secret, purpose), value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs and verifies one kind of token; `domain` (e.g. b"kefu-visitor-v1:") separates the kinds."""

    domain: bytes

    def _mac(self, body: str) -> str:
        key = get_settings().secret_key.encode()  # read per call: tests and key rotation change the settings
        return b64encode(hmac.new(key, self.domain + body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, payload: Mapping[str, Any], now: float | None = None) -> str:
        """A token carrying `payload` plus its issue time ("t", whole seconds)."""
        data = {**payload, "t": int(time.time() if now is None else now)}
        body = b64encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._mac(body)}"

    def unsign(
        self, token: str | None, max_age: float, read: Callable[[dict[str, Any]], T], now: float | None = None
    ) -> T | None:
        """`read(payload)` for an authentic token younger than `max_age` seconds; None for anything else.

        A forged, truncated, expired or malformed token (including one `read` cannot parse) is None, never an error.
        """
        if not token or token.count(".") != 1:
            return None
        body, sig = token.split(".")
        try:
            if not hmac.compare_digest(self._mac(body), sig):
                return None
            data = json.loads(b64decode(body))
            if not isinstance(data, dict):
                return None
            issued = int(data["t"])
            value = read(data)
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        if (time.time() if now is None else now) - issued > max_age:
            return None
        return value
