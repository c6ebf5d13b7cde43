"""The configuration-token read opens the transaction: on PostgreSQL it carries the BEGIN (one round trip, not two)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.core import configcache
from kefu.core.db import _opens_transaction
from kefu.core.models import ConfigVersion


@pytest.fixture
def commands(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The commands psycopg sends on its own (its BEGIN, COMMIT, ROLLBACK), PostgreSQL only."""
    sent: list[bytes] = []
    if engine.dialect.name != "postgresql":
        return sent
    import psycopg

    original = psycopg.Connection._exec_command

    def recording(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(command) if isinstance(command, bytes | bytearray) else str(command).encode())
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "_exec_command", recording)
    return sent


def test_the_token_read_opens_the_transaction_without_a_begin_of_its_own(engine: Any, commands: list[bytes]) -> None:
    brand_id = -(uuid.uuid4().int % 1_000_000) - 1  # a brand id no test uses
    with Session(engine) as s:  # a pooled connection set up (psycopg's type lookups run in a transaction of theirs)
        s.execute(select(ConfigVersion.brand_id).limit(1)).all()
        s.rollback()
    commands.clear()
    try:
        with Session(engine) as s:
            configcache._tokens(s)  # the transaction's first statement
            if engine.dialect.name == "postgresql":
                driver = s.connection().connection.driver_connection
                assert driver.info.transaction_status.name == "INTRANS"
                assert not driver.autocommit and not _opens_transaction(driver)
            s.add(ConfigVersion(brand_id=brand_id, version=1))
            s.flush()
            s.rollback()  # the row was inside the transaction the read opened: rolled back with it
        with Session(engine) as s:
            configcache._tokens(s)
            assert s.scalar(select(ConfigVersion.version).where(ConfigVersion.brand_id == brand_id)) is None
            s.rollback()
        with Session(engine) as s:
            tokens, _ = configcache._tokens(s)
            assert brand_id not in tokens
            s.add(ConfigVersion(brand_id=brand_id, version=7))
            s.commit()
        with Session(engine) as s:
            tokens, _ = configcache._tokens(s)  # the same rows as an ordinary read
            assert tokens[brand_id] == 7
            assert {b: v for b, v in s.execute(select(ConfigVersion.brand_id, ConfigVersion.version))} == tokens
            s.rollback()
        assert b"BEGIN" not in commands, commands  # PostgreSQL: no BEGIN round trip of psycopg's own
        if engine.dialect.name == "postgresql":
            assert commands.count(b"COMMIT") == 1 and commands.count(b"ROLLBACK") == 3
    finally:
        with Session(engine) as s:
            s.execute(delete(ConfigVersion).where(ConfigVersion.brand_id == brand_id))
            s.commit()


def test_a_failed_read_leaves_the_connection_as_psycopg_would(engine: Any) -> None:
    """A combined read that fails leaves no transaction open and the driver out of autocommit; the next one works."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from kefu.core.db import run_first_read

    if engine.dialect.name != "postgresql":
        pytest.skip("the combined read is PostgreSQL's")
    with Session(engine) as s:
        conn = s.connection()
        with pytest.raises(DBAPIError):
            run_first_read(conn, text("SELECT 1 / 0"))
        driver = conn.connection.driver_connection
        # The simple query stopped at the error: no transaction was opened, psycopg's flag is back.
        assert driver.autocommit is False and driver.info.transaction_status.name == "IDLE"
        s.rollback()
    with Session(engine) as s:
        conn = s.connection()
        driver = conn.connection.driver_connection
        assert driver.autocommit is False and driver.info.transaction_status.name == "IDLE"
        assert run_first_read(conn, text("SELECT 2")) == [(2,)]
        assert driver.info.transaction_status.name == "INTRANS"
        s.rollback()
