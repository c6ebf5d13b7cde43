"""kefu.core.signing: the one signer behind web-chat visitor tokens and identity-claim links."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from kefu.core.signing import Signer, b64decode, b64encode

VISITOR = Signer(b"kefu-visitor-v1:")
CLAIM = Signer(b"kefu-claim-v1:")


def _pair(data: dict[str, Any]) -> tuple[int, str]:
    return int(data["i"]), str(data["v"])


def test_round_trip_and_issue_time() -> None:
    token = VISITOR.sign({"i": 7, "v": "訪客-1"}, now=1_000)
    assert VISITOR.unsign(token, 60, _pair, now=1_030) == (7, "訪客-1")
    assert VISITOR.unsign(token, 60, lambda d: d["t"], now=1_030) == 1_000
    assert VISITOR.unsign(token, 60, _pair, now=1_061) is None  # expired


def test_domains_separate_the_kinds() -> None:
    token = VISITOR.sign({"i": 7, "v": "x"})
    assert CLAIM.unsign(token, 60, _pair) is None


def test_forged_truncated_and_malformed_tokens_are_none() -> None:
    token = VISITOR.sign({"i": 7, "v": "x"})
    body, sig = token.split(".")
    forged = b64encode(json.dumps({"i": 8, "v": "x", "t": 10**10}).encode())
    for bad in (None, "", body, f"{forged}.{sig}", f"{body}.{sig[:-2]}", f"{body}.{sig}.x", "a.b", "@@.@@"):
        assert VISITOR.unsign(bad, 60, _pair) is None, bad
    # Authentic but unreadable for this reader: None, not an exception.
    assert VISITOR.unsign(VISITOR.sign({"i": "seven", "v": "x"}), 60, _pair) is None
    assert VISITOR.unsign(VISITOR.sign({"v": "x"}), 60, _pair) is None


def test_tokens_issued_before_the_shared_signer_still_verify() -> None:
    """Visitor tokens in browsers were written with json.dumps' default separators: the MAC covers the body as sent."""
    from kefu.core.config import get_settings

    body = b64encode(json.dumps({"i": 3, "v": "old", "t": 1_000}).encode())
    mac = hmac.new(get_settings().secret_key.encode(), b"kefu-visitor-v1:" + body.encode(), hashlib.sha256).digest()
    assert VISITOR.unsign(f"{body}.{b64encode(mac)}", 60, _pair, now=1_001) == (3, "old")
    assert json.loads(b64decode(body))["v"] == "old"
