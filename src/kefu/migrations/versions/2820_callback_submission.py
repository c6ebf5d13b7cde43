"""callbacks: the public booking's submission id and a digest of what it asked, so a retried post books once

Revision ID: 2820
Revises: 2780
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2820"
down_revision: str | None = "2780"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    # Existing rows stay NULL (NULLs never collide in a unique index): only new public bookings carry an id.
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("submission", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("submission_digest", sa.String(length=64), nullable=True))
    op.create_index("uq_callbacks_brand_submission", "callbacks", ["brand_id", "submission"], unique=True)


def downgrade() -> None:
    """Revert."""
    op.drop_index("uq_callbacks_brand_submission", table_name="callbacks")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("submission_digest")
        batch.drop_column("submission")
