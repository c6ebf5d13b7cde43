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
    assert token.startswith("enc:v2:") and "channel" not in token
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


# Written by the pre-HKDF code (hand-written HMAC extract+expand) with KEFU_SECRET_KEY = "k" * 40.
LEGACY_V1_TOKEN = "enc:v1:51b0d765:fr3vmS9WO5sx0CCtiUr2wm1DSvhIpq1RA9LZszr88qLwUK_a5xRZiMNZ0_HqHQ"


def test_legacy_v1_tokens_decrypt_and_are_rewritten_as_v2(secrets_env: Any, tmp_path: Any) -> None:
    import hashlib
    import hmac

    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

    from kefu.privacy.crypto import V1, V2, EncryptedStr, decrypt_str, derive_key, key_id, token_version

    secrets_env("k" * 40)
    assert decrypt_str(LEGACY_V1_TOKEN) == "旧 v1 密文 😀"
    # The v1 parameters through cryptography's HKDF give exactly the keys of the old hand-written derivation.
    prk = hmac.new(b"kefu-field-encryption", b"k" * 40, hashlib.sha256).digest()
    assert derive_key("k" * 40, V1).key == hmac.new(prk, b"aes-256-gcm\x01", hashlib.sha256).digest()
    assert derive_key("k" * 40, V1).kid == key_id(LEGACY_V1_TOKEN) == "51b0d765"
    assert derive_key("k" * 40, V2).key != derive_key("k" * 40, V1).key  # v2 uses its own info strings
    # A v1 token after a key rotation: the old secret still decrypts it.
    secrets_env("m" * 40, "k" * 40)
    assert decrypt_str(LEGACY_V1_TOKEN) == "旧 v1 密文 😀"
    # Reading a v1 row and writing it back stores a v2 token under the current key.
    engine = create_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    md = MetaData()
    t = Table("t", md, Column("id", Integer, primary_key=True), Column("s", EncryptedStr()))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (id, s) VALUES (1, :s)"), {"s": LEGACY_V1_TOKEN})
        value = conn.execute(select(t.c.s)).scalar_one()
        assert value == "旧 v1 密文 😀"
        conn.execute(t.update().values(s=value))
        raw = conn.execute(text("SELECT s FROM t")).scalar_one()
        conn.execute(insert(t).values(id=2, s="new"))
    assert token_version(raw) == "v2" and token_version(LEGACY_V1_TOKEN) == "v1" and token_version("plain") is None
    assert decrypt_str(raw) == "旧 v1 密文 😀" and key_id(raw) == derive_key("m" * 40, V2).kid
