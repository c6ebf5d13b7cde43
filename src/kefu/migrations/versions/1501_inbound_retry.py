"""inbound events: next retry time (failed processing is retried with backoff, not dropped after 45 s)

Revision ID: 1501
Revises: 0301
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1501"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column("inbound_events", sa.Column("next_attempt_at", kefu.core.db.UTCDateTime(timezone=True)))


def downgrade() -> None:
    """Revert."""
    op.drop_column("inbound_events", "next_attempt_at")
