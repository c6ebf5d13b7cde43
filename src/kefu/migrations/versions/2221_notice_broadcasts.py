"""notices: several channels per notice (recipient per row) and outage broadcasts to affected customers

Revision ID: 2221
Revises: 1713
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "2221"
down_revision: str | None = "1713"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "notice_broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", kefu.core.db.JsonType, nullable=False),
        sa.Column("channels", kefu.core.db.JsonType, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notice_broadcasts_brand_id", "notice_broadcasts", ["brand_id"])
    with op.batch_alter_table("customer_notices") as batch:
        batch.add_column(sa.Column("recipient", sa.String(320), nullable=True))
        batch.add_column(
            sa.Column(
                "broadcast_id",
                sa.Integer(),
                sa.ForeignKey(
                    "notice_broadcasts.id",
                    name="fk_customer_notices_broadcast_id_notice_broadcasts",
                    ondelete="CASCADE",
                ),
                nullable=True,
            )
        )
        batch.create_index("ix_customer_notices_broadcast_id", ["broadcast_id"])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("customer_notices") as batch:
        batch.drop_index("ix_customer_notices_broadcast_id")
        batch.drop_constraint("fk_customer_notices_broadcast_id_notice_broadcasts", type_="foreignkey")
        batch.drop_column("broadcast_id")
        batch.drop_column("recipient")
    op.drop_table("notice_broadcasts")
