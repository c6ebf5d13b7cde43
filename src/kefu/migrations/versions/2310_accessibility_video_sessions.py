"""accessibility: customers' declared accessibility needs; video / sign-language call-back sessions

Revision ID: 2310
Revises: 2270
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2310"
down_revision: str | None = "2270"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "1712"  # alters callbacks (made by 1712 on another branch)

T = kefu.core.db.UTCDateTime(timezone=True)
J = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "customer_accessibility",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("needs", J, nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("consent_at", T, nullable=False),
        sa.Column("declared_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_index("ix_customer_accessibility_brand_id", "customer_accessibility", ["brand_id"])
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="phone"))
        batch.add_column(sa.Column("needs_sign_language", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("interpreter_org", sa.String(200), nullable=True))
        batch.add_column(sa.Column("interpreter_cert", sa.String(200), nullable=True))
        batch.add_column(sa.Column("video_token", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_callbacks_video_token", ["video_token"])


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_constraint("uq_callbacks_video_token", type_="unique")
        for col in ("video_token", "interpreter_cert", "interpreter_org", "needs_sign_language", "mode"):
            batch.drop_column(col)
    op.drop_table("customer_accessibility")
