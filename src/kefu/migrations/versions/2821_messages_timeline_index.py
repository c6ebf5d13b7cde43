"""messages: (conversation_id, created_at, id), for the customer timeline's seek from a cursor

Revision ID: 2821
Revises: 2820
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2821"
down_revision: str | None = "2820"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    # Both databases read the timeline's row-value seek as a range of it (benchmarks/customer_timeline_plan.py).
    op.create_index("ix_messages_conversation_created_id", "messages", ["conversation_id", "created_at", "id"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_messages_conversation_created_id", table_name="messages")
