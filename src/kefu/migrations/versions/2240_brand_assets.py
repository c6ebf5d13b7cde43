"""brands: uploaded brand images (help-centre logo, favicon)

Revision ID: 2240
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "2240"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "brand_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_brand_assets_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_assets")),
        sa.UniqueConstraint("brand_id", "kind", name=op.f("uq_brand_assets_brand_id_kind")),
    )
    op.create_index(op.f("ix_brand_assets_brand_id"), "brand_assets", ["brand_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_brand_assets_brand_id"), table_name="brand_assets")
    op.drop_table("brand_assets")
