"""channel_attachments.path index: the orphan-file sweep looks files up by path in batches

Revision ID: 2640
Revises: 2560
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2640"
down_revision: str | None = "2560"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_channel_attachments_path", "channel_attachments", ["path"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_channel_attachments_path", table_name="channel_attachments")
