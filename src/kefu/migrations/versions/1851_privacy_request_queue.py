"""privacy: data-subject requests as a queue (channel, due date, identity check)

Revision ID: 1851
Revises: 0701
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1851"
down_revision: str | None = "0701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = kefu.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("privacy_requests") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="other"))
        batch.add_column(sa.Column("due_at", TS, nullable=True))
        batch.add_column(sa.Column("verified_at", TS, nullable=True))
        batch.add_column(sa.Column("verified_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("verification_note", sa.String(length=500), nullable=False, server_default=""))
        batch.create_foreign_key(
            "fk_privacy_requests_verified_by_agents", "agents", ["verified_by"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_privacy_requests_due_at", "privacy_requests", ["due_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_privacy_requests_due_at", table_name="privacy_requests")
    with op.batch_alter_table("privacy_requests") as batch:
        batch.drop_constraint("fk_privacy_requests_verified_by_agents", type_="foreignkey")
        for col in ("verification_note", "verified_by", "verified_at", "due_at", "channel"):
            batch.drop_column(col)
