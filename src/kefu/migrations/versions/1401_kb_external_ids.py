"""knowledge base: external ids (locale copies, idempotent import), category paths, answer formats

Revision ID: 1401
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1401"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("kb_faqs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("category_path", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("answer_format", sa.String(length=16), nullable=False, server_default="text"))
        batch_op.create_index("uq_kb_faqs_brand_external_locale", ["brand_id", "external_id", "locale"], unique=True)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("kb_faqs", schema=None) as batch_op:
        batch_op.drop_index("uq_kb_faqs_brand_external_locale")
        batch_op.drop_column("answer_format")
        batch_op.drop_column("category_path")
        batch_op.drop_column("external_id")
