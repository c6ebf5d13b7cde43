"""CHECK constraints for closed sets of domain values: ticket status/priority/channel, conversation status/channel,
message sender type/channel, inbox kind.

Rows holding a value outside its set (possible before: e.g. `update_ticket(..., {"priority": "whatever"})`) are first
mapped to the column's neutral value so the constraint can be added. SQLite recreates the tables (batch mode) with
foreign keys switched off (env.py), so dropping the old table cannot cascade into the rows that reference it; the partial
indexes on these tables are dropped and recreated around the copy so they keep their WHERE clauses.

Revision ID: 2001
Revises: 0903, 0901
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2001"
down_revision: str | tuple[str, ...] | None = ("0903", "0901")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the enums in kefu.core.enums / tickets.models / conversations.models at this revision.
CHANNELS = ("web_chat", "email", "line", "messenger", "board", "phone", "api", "letter")
CHECKS: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    # table: [(column, allowed values, value for rows outside the set)]
    "tickets": [
        ("status", ("new", "open", "pending", "on_hold", "resolved", "closed"), "open"),
        ("priority", ("low", "normal", "high", "urgent"), "normal"),
        ("channel", CHANNELS, "api"),
    ],
    "conversations": [
        ("status", ("bot", "open", "pending", "closed"), "open"),
        ("channel", CHANNELS, "api"),
    ],
    "messages": [
        ("sender_type", ("customer", "bot", "agent", "system"), "system"),
        ("channel", CHANNELS, "api"),
    ],
    "inboxes": [("kind", CHANNELS[:-1], "api")],
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _partial_indexes(create: bool) -> None:
    if create:
        op.create_index(
            "ix_tickets_search", "tickets", ["search_vector"], postgresql_using="gin", sqlite_where=sa.text("0")
        )
        op.create_index(
            "ix_messages_bot_replies",
            "messages",
            ["conversation_id"],
            postgresql_where=sa.text("sender_type = 'bot' AND is_note IS false"),
            sqlite_where=sa.text("sender_type = 'bot' AND is_note IS 0"),
        )
    else:
        op.drop_index("ix_tickets_search", table_name="tickets")
        op.drop_index("ix_messages_bot_replies", table_name="messages")


def _refuse_cascading_copy() -> None:
    # Recreating a table with foreign keys enforced would cascade-delete the rows referencing it; kefu's migration
    # environment (env.py) switches enforcement off for SQLite, so this only stops an unusual runner.
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1:
        raise RuntimeError("run this migration with `kefu db upgrade` (SQLite foreign keys must be off)")


def upgrade() -> None:
    for table, checks in CHECKS.items():
        for column, values, fallback in checks:
            op.execute(
                sa.text(f"UPDATE {table} SET {column} = :fallback WHERE NOT ({_in(column, values)})").bindparams(  # noqa: S608 - names are constants
                    fallback=fallback
                )
            )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _refuse_cascading_copy()
        _partial_indexes(create=False)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values, _ in checks:
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _in(column, values))
    if sqlite:
        _partial_indexes(create=True)
        bad = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if bad:
            raise RuntimeError(f"foreign key violations after recreating tables: {bad[:5]}")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _refuse_cascading_copy()
        _partial_indexes(create=False)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, _, _ in checks:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    if sqlite:
        _partial_indexes(create=True)
