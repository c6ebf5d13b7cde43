"""The call-back requester is the client address hashed under a key of its own purpose, from the settings given."""

from __future__ import annotations

import hashlib
import hmac

import pytest

IP = "198.51.100.7"


def _settings(secret: str) -> object:
    from kefu.core.config import Settings

    return Settings(secret_key=secret)


def test_the_requester_hash_is_domain_separated_from_the_bare_secret() -> None:
    """Not the HMAC under the bare secret (which any other unlabelled use of the secret could produce)."""
    from kefu.callbacks.service import requester_of

    secret = "s" * 40
    got = requester_of(IP, _settings(secret))  # type: ignore[arg-type]
    bare = hmac.new(secret.encode(), IP.encode(), hashlib.sha256).hexdigest()[:40]
    key = hashlib.sha256(b"kefu-callback-requester:" + secret.encode()).digest()
    assert got == "ip:" + hmac.new(key, IP.encode(), hashlib.sha256).hexdigest()[:40]
    assert got != "ip:" + bare and IP not in got


def test_the_key_comes_from_the_settings_passed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """No lookup of the process settings per call: the caller's settings decide (tests, an app's own settings)."""
    from kefu.callbacks.service import requester_of
    from kefu.core import config

    def refuse() -> None:
        raise AssertionError("requester_of read the process settings")

    monkeypatch.setattr(config, "get_settings", refuse)
    one, other = (requester_of(IP, _settings(s)) for s in ("a" * 40, "b" * 40))  # type: ignore[arg-type]
    assert one != other and one == requester_of(IP, _settings("a" * 40))  # type: ignore[arg-type]


def test_privacy_subject_hashes_are_unchanged_by_the_shared_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Privacy requests reuse the same keyed-hash helper: hashes stored before keep matching."""
    from kefu.core.signing import keyed_hash
    from kefu.privacy import service

    secret = "p" * 40
    monkeypatch.setattr(service, "get_settings", lambda: _settings(secret))
    key = hashlib.sha256(b"kefu-privacy-subject:" + secret.encode()).digest()
    before = hmac.new(key, b"phone:0912345678", hashlib.sha256).hexdigest()
    assert service._keyed_hash("phone:0912345678") == before
    assert keyed_hash(secret, "kefu-callback-requester", "x") != keyed_hash(secret, "kefu-privacy-subject", "x")
