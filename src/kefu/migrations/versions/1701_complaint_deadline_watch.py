"""complaints: when the deadline watch found the acknowledgement / reply deadline missed

Revision ID: 1701
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1701"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledge_overdue_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reply_overdue_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("reply_overdue_at")
        batch_op.drop_column("acknowledge_overdue_at")
