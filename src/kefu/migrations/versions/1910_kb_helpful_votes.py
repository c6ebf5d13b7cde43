"""knowledge base: helpful / not helpful votes and article views for the help centre

Revision ID: 1910
Revises: 1401
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1910"
down_revision: str | None = "1401"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    for table in ("kb_faqs", "kb_articles"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("helpful_votes", sa.Integer(), nullable=False, server_default="0"))
            batch_op.add_column(sa.Column("unhelpful_votes", sa.Integer(), nullable=False, server_default="0"))
            batch_op.add_column(sa.Column("views", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Revert."""
    for table in ("kb_faqs", "kb_articles"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("views")
            batch_op.drop_column("unhelpful_votes")
            batch_op.drop_column("helpful_votes")
