"""callbacks: who asked (a keyed hash of the client address, or the number itself), so the public cap is per requester

Revision ID: 2770
Revises: 2760
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2770"
down_revision: str | None = "2760"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    # Existing rows stay NULL: they count toward the per-number ceiling only, as no requester's own share.
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("requester", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("requester")
