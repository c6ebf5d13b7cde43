"""brand_reports: the weekly report / monthly white paper mailed to a brand's leads, one per brand, kind and period

Revision ID: 2880
Revises: 2860
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2880"
down_revision: str | None = "2860"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)
J = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "brand_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_key", sa.String(16), nullable=False),
        sa.Column("start", T, nullable=False),
        sa.Column("end", T, nullable=False),
        sa.Column("recipients", J, nullable=False),
        sa.Column("outbox_ids", J, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "kind", "period_key", name="uq_brand_reports_brand_kind_period"),
    )
    op.create_index("ix_brand_reports_brand_created", "brand_reports", ["brand_id", "created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_brand_reports_brand_created", table_name="brand_reports")
    op.drop_table("brand_reports")
