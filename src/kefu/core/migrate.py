"""Programmatic Alembic: `kefu db upgrade` and the test suite build the schema the same way."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic config pointing at kefu's bundled migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", "kefu:migrations")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | None = None, revision: str = "heads", connection: Connection | None = None) -> None:
    """Migrate the database to `revision`."""
    command.upgrade(alembic_config(url, connection), revision)


def downgrade(url: str | None = None, revision: str = "base", connection: Connection | None = None) -> None:
    """Migrate the database down to `revision`."""
    command.downgrade(alembic_config(url, connection), revision)


def current_heads() -> list[str]:
    """Head revision ids of the bundled migrations."""
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
