"""Field encryption: AES-GCM tokens with key ids, rotation, tamper detection, SQLAlchemy types."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("cryptography")


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    from kefu.core.config import get_settings

    def use(current: str, old: str = "") -> None:
        monkeypatch.setenv("KEFU_SECRET_KEY", current)
        monkeypatch.setenv("KEFU_OLD_SECRET_KEYS", old)
        get_settings.cache_clear()

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()


def test_roundtrip_tamper_and_rotation(secrets_env: Any) -> None:
    from kefu.privacy.crypto import DecryptionError, decrypt_str, encrypt_str, key_id

    secrets_env("a" * 40)
    token = encrypt_str("channel-secret-值")
    assert token.startswith("enc:v1:") and "channel" not in token
    assert encrypt_str("x") != encrypt_str("x")  # random nonce
    assert decrypt_str(token) == "channel-secret-值"
    body = token[-6:]
    flipped = token[:-6] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(DecryptionError):
        decrypt_str(flipped)
    secrets_env("b" * 40)
    with pytest.raises(DecryptionError, match="KEFU_OLD_SECRET_KEYS"):
        decrypt_str(token)
    secrets_env("b" * 40, '["' + "a" * 40 + '"]')
    assert decrypt_str(token) == "channel-secret-值"
    assert key_id(encrypt_str("y")) != key_id(token)


def test_encrypted_types_and_key_rotation(secrets_env: Any, tmp_path: Any) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

    from kefu.privacy.crypto import EncryptedJSON, EncryptedStr, decrypt_str, key_id

    secrets_env("c" * 40)
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    md = MetaData()
    t = Table(
        "t", md, Column("id", Integer, primary_key=True), Column("s", EncryptedStr()), Column("j", EncryptedJSON())
    )
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=1, s="smtp-password", j={"channel_secret": "s3cr3t", "n": 1}))
        conn.execute(text("INSERT INTO t (id, s, j) VALUES (2, 'legacy', '{\"token\": \"plain\"}')"))
        raw = conn.execute(text("SELECT s, j FROM t WHERE id = 1")).one()
        assert "smtp-password" not in raw[0] and "s3cr3t" not in raw[1] and "$enc" in raw[1]
        rows = conn.execute(select(t).order_by(t.c.id)).all()
    assert rows[0].s == "smtp-password" and rows[0].j == {"channel_secret": "s3cr3t", "n": 1}
    assert rows[1].s == "legacy" and rows[1].j == {"token": "plain"}  # plaintext rows still read
    old_kid = key_id(raw[0])
    secrets_env("d" * 40, "c" * 40)
    with engine.begin() as conn:
        for row in conn.execute(select(t)).all():
            conn.execute(t.update().where(t.c.id == row.id).values(s=row.s, j=row.j))
        raw2 = conn.execute(text("SELECT s FROM t WHERE id = 1")).scalar_one()
    assert key_id(raw2) != old_kid and decrypt_str(raw2) == "smtp-password"


def test_rotate_keys_scans_mapped_columns(db: Any) -> None:
    from kefu.privacy.crypto import encrypted_columns, rotate_keys

    cols = encrypted_columns()
    assert isinstance(rotate_keys(db), dict) and len(rotate_keys(db)) == len(cols)
