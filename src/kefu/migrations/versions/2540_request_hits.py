"""security: request_hits, one row per request to a throttled public route (widget session, leave-a-message…)

Revision ID: 2540
Revises: 2110
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2540"
down_revision: str | None = "2110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "request_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_hits")),
    )
    op.create_index("ix_request_hits_bucket_key_at", "request_hits", ["bucket", "key", "at"])
    op.create_index(op.f("ix_request_hits_at"), "request_hits", ["at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_request_hits_at"), table_name="request_hits")
    op.drop_index("ix_request_hits_bucket_key_at", table_name="request_hits")
    op.drop_table("request_hits")
