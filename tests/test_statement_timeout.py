"""PostgreSQL statement timeout (KEFU_DB_STATEMENT_TIMEOUT_SECONDS): set on every connection next to lock_timeout,
and a request whose statement it cancels answers 503 + Retry-After problem+json, not 500 and not a hang."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PG_URL

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs KEFU_TEST_DATABASE_URL (PostgreSQL)")


def _shown(engine: Any, name: str) -> str:
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql(f"SHOW {name}").scalar())
    finally:
        engine.dispose()


def test_the_setting_defaults_to_a_minute_and_zero_turns_it_off() -> None:
    from pydantic import ValidationError

    from kefu.core.config import Settings
    from kefu.core.db import STATEMENT_TIMEOUT_SECONDS

    assert Settings(env="test").db_statement_timeout_seconds == STATEMENT_TIMEOUT_SECONDS == 60
    assert Settings(env="test", db_statement_timeout_seconds=0).db_statement_timeout_seconds == 0
    with pytest.raises(ValidationError):
        Settings(env="test", db_statement_timeout_seconds=-1)


@needs_pg
def test_every_connection_carries_the_configured_statement_timeout() -> None:
    from kefu.core.config import Settings
    from kefu.core.db import database_for, make_engine

    assert PG_URL
    db = database_for(Settings(env="test", database_url=PG_URL, db_statement_timeout_seconds=2.5))
    assert _shown(db.engine, "statement_timeout") == "2500ms"
    assert _shown(make_engine(PG_URL, pool=False, write_wait=1.5), "lock_timeout") == "1500ms"  # still there
    assert _shown(make_engine(PG_URL, pool=False), "statement_timeout") == "1min"
    assert _shown(make_engine(PG_URL, pool=False, statement_timeout=0), "statement_timeout") == "0"  # server's own
    # The URL's own options are kept, and its own statement_timeout wins (as for lock_timeout).
    sep = "&" if "?" in PG_URL else "?"
    own = make_engine(f"{PG_URL}{sep}options=-c%20statement_timeout%3D4321", pool=False, statement_timeout=2)
    assert _shown(own, "statement_timeout") == "4321ms"


@needs_pg
def test_a_request_whose_statement_is_cancelled_answers_503(
    client: Any, make: Any, db_url: str, connection: Any
) -> None:
    import psycopg

    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's statement_timeout")
    brand = make.brand()
    h = make.token(make.agent("admin"))
    # (No request before the lock: its read would hold the tickets table's share lock until the test's rollback.)
    # The test's transaction: no lock wait limit, a short statement limit, so the cancel is the statement timeout's.
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
    connection.exec_driver_sql("SET LOCAL statement_timeout = '300ms'")
    with psycopg.connect(db_url) as holder:  # a statement that cannot finish: the table is locked elsewhere
        holder.execute("SET lock_timeout = '5s'")
        holder.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        r = client.get("/api/v1/tickets", params={"brand_id": brand.id}, headers=h)
        holder.rollback()
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["status"] == 503
    assert client.get("/api/v1/tickets", params={"brand_id": brand.id}, headers=h).status_code == 200  # and then on
