"""jobs/inbound_events.transient_failures: transient retries (lock timeout, database gone) back off exponentially

Revision ID: 2690
Revises: 2660
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2690"
down_revision: str | None = "2660"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("1500", "1501")  # the jobs and inbound_events tables (other branches)


def upgrade() -> None:
    """Apply."""
    for table in ("jobs", "inbound_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("transient_failures", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Revert."""
    for table in ("jobs", "inbound_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("transient_failures")
