"""org_reports: per-organization operations report settings and the reports sent (one per organization and period)

Revision ID: 2660
Revises: 2640
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2660"
down_revision: str | None = "2640"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)
J = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "org_report_settings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("recipients", J, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_index("ix_org_report_settings_brand_id", "org_report_settings", ["brand_id"])
    op.create_table(
        "org_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(16), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("start", T, nullable=False),
        sa.Column("end", T, nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("recipients", J, nullable=False),
        sa.Column("data", J, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outbox_ids", J, nullable=False),
        sa.Column("triggered_by", sa.Integer(), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["triggered_by"], ["agents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "period_key", name="uq_org_reports_org_period"),
    )
    op.create_index("ix_org_reports_brand_created", "org_reports", ["brand_id", "created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_org_reports_brand_created", table_name="org_reports")
    op.drop_table("org_reports")
    op.drop_index("ix_org_report_settings_brand_id", table_name="org_report_settings")
    op.drop_table("org_report_settings")
