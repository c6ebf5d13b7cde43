"""shifts: a break inside a weekly shift (lunch, rest) so coverage and routing see it

Revision ID: 2220
Revises: 1750
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2220"
down_revision: str | None = "1750"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("shift_patterns") as batch:
        batch.add_column(sa.Column("break_start_minute", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("break_end_minute", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("shift_patterns") as batch:
        batch.drop_column("break_end_minute")
        batch.drop_column("break_start_minute")
