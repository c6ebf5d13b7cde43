"""core: per-brand configuration version tokens (process caches invalidate on them)

Revision ID: 2110
Revises: 0201
Create Date: 2026-12-06
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2110"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    table = op.create_table(
        "config_versions",
        sa.Column("brand_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand_id", name="pk_config_versions"),
    )
    brands = op.get_bind().execute(sa.text("SELECT id FROM brands")).scalars().all()
    if brands:
        op.bulk_insert(table, [{"brand_id": b, "version": secrets.randbits(62)} for b in brands])


def downgrade() -> None:
    """Revert."""
    op.drop_table("config_versions")
