"""analytics: indexes for the rolled-up agent CSAT (surveys by answer time) and bot containment (changed rows)

Revision ID: 2370
Revises: 2340
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2370"
down_revision: str | None = "2340"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0401"  # indexes bot_states, made by 0401 on another branch


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_csat_surveys_brand_answered", "csat_surveys", ["brand_id", "answered_at"])
    op.create_index("ix_conversations_brand_updated", "conversations", ["brand_id", "updated_at"])
    op.create_index("ix_bot_states_updated", "bot_states", ["updated_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_bot_states_updated", table_name="bot_states")
    op.drop_index("ix_conversations_brand_updated", table_name="conversations")
    op.drop_index("ix_csat_surveys_brand_answered", table_name="csat_surveys")
