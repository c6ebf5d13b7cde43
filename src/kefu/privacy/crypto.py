"""Encryption at rest for secret fields: AES-256-GCM with keys derived from KEFU_SECRET_KEY, rotatable.

Ciphertexts look like ``enc:v2:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the key id selects the key, so
after rotating KEFU_SECRET_KEY the previous secrets listed in KEFU_OLD_SECRET_KEYS (JSON list or
comma-separated) still decrypt, and `kefu privacy rotate-keys` re-encrypts every column with the current key.

Keys come from `cryptography`'s HKDF-SHA256 (RFC 5869). The derivation is versioned by the token prefix:
``enc:v2:`` uses domain-separated info strings; ``enc:v1:`` tokens (written before v2) are still read with the v1
parameters and are rewritten as v2 on their next write or by `rotate-keys`.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from kefu.core.config import get_settings
from kefu.core.db import Base, JsonType

PREFIX = "enc:v2:"  # what encryption writes
LEGACY_PREFIXES = ("enc:v1:",)  # still decrypted
ENVELOPE_KEY = "$enc"  # EncryptedJSON stores {"$enc": "enc:v2:…"} so the column stays valid JSON/JSONB


class DecryptionError(ValueError):
    """A ciphertext could not be decrypted (unknown key id or tampered data)."""


@dataclass(frozen=True)
class FieldKey:
    """One derived data key and its public id."""

    kid: str
    key: bytes


@dataclass(frozen=True)
class Derivation:
    """HKDF parameters of one token version (salt, info for the key and for the key id, AES-GCM associated data)."""

    prefix: str
    salt: bytes
    key_info: bytes
    kid_info: bytes
    aad: bytes


V2 = Derivation(
    "enc:v2:", b"kefu-field-encryption", b"kefu/field/aes-256-gcm/v2", b"kefu/field/key-id/v2", b"kefu-field-v2"
)
# v1 was hand-written HMAC extract+expand, which is exactly HKDF with these parameters (pinned by a test).
V1 = Derivation("enc:v1:", b"kefu-field-encryption", b"aes-256-gcm", b"key-id", b"kefu-field-v1")
DERIVATIONS = {d.prefix: d for d in (V2, V1)}


def _hkdf(secret: str, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret.encode())


def derive_key(secret: str, version: Derivation = V2) -> FieldKey:
    """HKDF-SHA256 derivation of a 256-bit data key (and its public 8-hex id) from an install secret."""
    key = _hkdf(secret, version.salt, version.key_info)
    kid = _hkdf(secret, version.salt, version.kid_info).hex()[:8]
    return FieldKey(kid=kid, key=key)


def _old_secrets() -> list[str]:
    return [s.get_secret_value() for s in get_settings().old_secret_keys]


@lru_cache(maxsize=8)
def _keyring(current: str, old: tuple[str, ...], version: Derivation) -> tuple[FieldKey, dict[str, FieldKey]]:
    primary = derive_key(current, version)
    ring = {k.kid: k for k in (derive_key(s, version) for s in old)}
    ring[primary.kid] = primary
    return primary, ring


def keyring(version: Derivation = V2) -> tuple[FieldKey, dict[str, FieldKey]]:
    """(current key, every key that may decrypt) of one token version, from the current settings."""
    return _keyring(get_settings().secret_key, tuple(_old_secrets()), version)


def is_encrypted(value: object) -> bool:
    """True for an `enc:v2:` (or legacy `enc:v1:`) token."""
    return isinstance(value, str) and value.startswith((PREFIX, *LEGACY_PREFIXES))


def _version(token: str) -> Derivation:
    return DERIVATIONS[token[: len(PREFIX)]]


def encrypt_bytes(data: bytes) -> str:
    """Encrypt with the current key."""
    primary, _ = keyring()
    nonce = secrets.token_bytes(12)
    ct = AESGCM(primary.key).encrypt(nonce, data, V2.aad)
    return f"{PREFIX}{primary.kid}:{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"


def decrypt_bytes(token: str) -> bytes:
    """Decrypt a token made by any key in the ring."""
    if not is_encrypted(token):
        raise DecryptionError("not an encrypted value")
    version = _version(token)
    kid, _, body = token[len(version.prefix) :].partition(":")
    _, ring = keyring(version)
    key = ring.get(kid)
    if key is None:
        raise DecryptionError(f"no key with id {kid} (add the old secret to KEFU_OLD_SECRET_KEYS)")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        return AESGCM(key.key).decrypt(raw[:12], raw[12:], version.aad)
    except Exception as exc:  # InvalidTag: wrong key or modified ciphertext
        raise DecryptionError("ciphertext failed authentication") from exc


def encrypt_str(value: str) -> str:
    """Encrypt text."""
    return encrypt_bytes(value.encode())


def decrypt_str(token: str) -> str:
    """Decrypt text."""
    return decrypt_bytes(token).decode()


def key_id(token: str) -> str | None:
    """The key id of a token (None for plaintext)."""
    return token[len(PREFIX) :].split(":", 1)[0] if is_encrypted(token) else None


def token_version(token: str) -> str | None:
    """'v2', 'v1' (rewrite pending) or None for plaintext."""
    return token[4:6] if is_encrypted(token) else None


class EncryptedStr(TypeDecorator[str]):
    """A string column stored encrypted; legacy plaintext rows still read (and are encrypted on next write)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else encrypt_str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Decrypt on the way out."""
        if value is None or not is_encrypted(value):
            return value
        return decrypt_str(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object column stored as {"$enc": token}; legacy plaintext objects still read."""

    impl = JsonType
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> dict[str, Any] | None:
        """Encrypt the whole object."""
        if value is None:
            return None
        return {ENVELOPE_KEY: encrypt_str(json.dumps(value, ensure_ascii=False, sort_keys=True))}

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        """Decrypt the envelope (or pass through a legacy plaintext object)."""
        if value is None:
            return None
        if isinstance(value, str):  # SQLite JSON can come back undecoded through some paths
            value = json.loads(value)
        if isinstance(value, dict) and set(value) == {ENVELOPE_KEY} and is_encrypted(value[ENVELOPE_KEY]):
            decoded: dict[str, Any] = json.loads(decrypt_str(value[ENVELOPE_KEY]))
            return decoded
        return dict(value) if isinstance(value, dict) else value


def encrypted_columns() -> list[tuple[Any, Any]]:
    """(table, column) for every mapped column using an encrypted type."""
    import kefu.models  # noqa: F401 - make sure every table is registered

    found = []
    for table in Base.metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, EncryptedStr | EncryptedJSON):
                found.append((table, col))
    return found


def rotate_keys(session: Session, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted column with the current key; returns rows rewritten per table.column."""
    from sqlalchemy import select, update

    out: dict[str, int] = {}
    for table, col in encrypted_columns():
        pk = next(iter(table.primary_key.columns))
        n, last = 0, None
        while True:
            stmt = select(pk, col).order_by(pk).limit(batch)
            if last is not None:
                stmt = stmt.where(pk > last)
            rows = session.execute(stmt).all()
            if not rows:
                break
            for ident, value in rows:
                if value is not None:  # the value was decrypted by the type; binding re-encrypts with the current key
                    session.execute(update(table).where(pk == ident).values({col.name: value}))
                    n += 1
            last = rows[-1][0]
        out[f"{table.name}.{col.name}"] = n
    session.flush()
    return out
