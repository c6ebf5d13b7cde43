"""Alembic environment: migrates the database named by the Alembic config or KEFU_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import kefu.models  # noqa: F401  (registers every table)
from kefu.core.config import get_settings
from kefu.core.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # Batch migrations recreate SQLite tables; with enforcement on, dropping the old table would cascade into the
    # rows that reference it. The pragma only works outside a transaction, hence the DBAPI call before alembic
    # begins one (kefu's engine opens every SQLAlchemy transaction with BEGIN IMMEDIATE).
    if connection.dialect.name == "sqlite" and not connection.in_transaction():
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    _sqlite_foreign_keys(connection, False)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        _sqlite_foreign_keys(connection, True)


def run_migrations_online() -> None:
    """Run migrations on a live connection (passed in by kefu, or opened from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = get_settings()
    url = config.get_main_option("sqlalchemy.url") or settings.database_url
    # The configured write-wait, as the app's connections have it (PostgreSQL lock_timeout, SQLite busy wait).
    # No statement timeout: a backfill or an index build may rightly run longer than any request should.
    engine = make_engine(url, pool=False, write_wait=settings.db_write_wait_seconds, statement_timeout=0)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
