"""analytics: statistic rollups (durations, FCR, SLA, CSAT, categories, agents) per brand and block of hours

Revision ID: 2340
Revises: 2111
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2340"
down_revision: str | None = "2111"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "analytics_ticket_stats",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("span", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("lo", sa.Float(), nullable=True),
        sa.Column("hi", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_analytics_ticket_stats_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("brand_id", "span", "hour", "metric", "key", name=op.f("pk_analytics_ticket_stats")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("analytics_ticket_stats")
