"""analytics: hourly ticket rollups and their completeness mark

Revision ID: 2111
Revises: 0801
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "2111"
down_revision: str | None = "0801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "analytics_ticket_hours",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_analytics_ticket_hours_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("brand_id", "hour", "channel", name=op.f("pk_analytics_ticket_hours")),
    )
    op.create_table(
        "analytics_rollup_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("complete_until", sa.Integer(), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_rollup_state")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("analytics_rollup_state")
    op.drop_table("analytics_ticket_hours")
