"""ticket search documents: tickets.search_vector (tsvector + GIN on PostgreSQL, token text on SQLite) and backfill

The backfill builds every existing ticket's document in Python (kefu.tickets.search.backfill: PII-masked,
script-folded tokens of subject, description and linked messages) in batches of 500 tickets inside this migration.
It runs at roughly 5-10k messages per second per core; for a large database set KEFU_SEARCH_BACKFILL=later to skip
it here and run `python -m kefu.tickets.search backfill` afterwards (commits per batch, restartable; tickets without a
document are still found by number, and get one as soon as the backfill reaches them).

Revision ID: 0901
Revises: 0002
Create Date: 2026-12-10
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0901"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_vector", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True)
        )
    op.create_index(
        "ix_tickets_search", "tickets", ["search_vector"], postgresql_using="gin", sqlite_where=sa.text("0")
    )
    if os.environ.get("KEFU_SEARCH_BACKFILL", "now") != "later":
        from kefu.tickets.search import backfill

        backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_tickets_search", table_name="tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("search_vector")
