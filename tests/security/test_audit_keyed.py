"""The audit chain is keyed: rewriting an entry and recomputing the chain without the server's secret is detected."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from tests.privacy.test_audit_chain import _entries, _unlock


def _rewrite_and_rehash(db: Any, target_id: int, key: bytes | None, key_id: str | None) -> None:
    """The attacker with database access: edit one entry, recompute every later link, move the head."""
    from kefu.audit.chain import GENESIS, HASHED_FIELDS, entry_hash, keyed_hash
    from kefu.audit.models import AuditChainHead, AuditLog

    _unlock(db)
    db.execute(text("UPDATE audit_log SET action = 'test.innocent' WHERE id = :id"), {"id": target_id})
    db.expire_all()
    prev = GENESIS
    for row in db.scalars(select(AuditLog).where(AuditLog.seq.is_not(None)).order_by(AuditLog.seq)):
        values = {k: getattr(row, k) for k in HASHED_FIELDS}
        digest = keyed_hash(key, key_id, row.seq, prev, values) if key and key_id else entry_hash(row.seq, prev, values)
        db.execute(
            text("UPDATE audit_log SET prev_hash = :p, hash = :h, key_id = :k WHERE id = :id"),
            {"p": prev, "h": digest, "k": key_id, "id": row.id},
        )
        prev = digest
    db.execute(text("UPDATE audit_chain_head SET hash = :h WHERE id = 1"), {"h": prev})
    db.expire_all()
    assert db.get(AuditChainHead, 1).hash == prev


@pytest.mark.parametrize("guess", ["unkeyed", "wrong-secret", "right-key-id-wrong-secret"])
def test_rewrite_and_rehash_is_detected(db: Any, guess: str) -> None:
    import hashlib
    import hmac

    from kefu.audit.chain import audit_keys, verify_chain

    rows = _entries(db)
    kid, _ = audit_keys()
    if guess == "unkeyed":
        _rewrite_and_rehash(db, rows[1].id, None, None)
        expected = "no key id"
    else:
        fake = hmac.new(b"guessed secret", f"kefu-audit-chain/{kid}".encode(), hashlib.sha256).digest()
        _rewrite_and_rehash(db, rows[1].id, fake, kid if guess.startswith("right") else "k9")
        expected = "modified" if guess.startswith("right") else "unknown key id"
    result = verify_chain(db)
    assert not result.ok and any(expected in p for p in result.problems), result.problems


def test_key_rotation_keeps_old_entries_verifiable(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kefu.audit import chain
    from kefu.core.config import get_settings

    old = get_settings()
    _entries(db, 2)
    rotated = old.model_copy(
        update={"secret_key": "n" * 40, "audit_key_id": "k2", "audit_old_secrets": {old.audit_key_id: old.secret_key}}
    )
    monkeypatch.setattr(chain, "get_settings", lambda: rotated)
    rows = _entries(db, 2)
    assert rows[-1].key_id == "k2"
    assert chain.verify_chain(db).ok
    forgot = rotated.model_copy(update={"audit_old_secrets": {}})
    result = chain.verify_chain(db, settings=forgot)
    assert not result.ok and any("unknown key id" in p for p in result.problems)
