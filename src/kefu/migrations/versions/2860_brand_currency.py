"""brands.currency: the ISO 4217 code spend and amounts are written in (TWD until an admin sets another)

Revision ID: 2860
Revises: 2821
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2860"
down_revision: str | None = "2821"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(3), server_default="TWD", nullable=False))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_column("currency")
