"""canned responses

Revision ID: 0601
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0601"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("shortcut", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_canned_responses_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["agents.id"], name=op.f("fk_canned_responses_created_by_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint(
            "brand_id", "locale", "shortcut", name=op.f("uq_canned_responses_brand_id_locale_shortcut")
        ),
    )
    op.create_index(op.f("ix_canned_responses_brand_id"), "canned_responses", ["brand_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_canned_responses_brand_id"), table_name="canned_responses")
    op.drop_table("canned_responses")
