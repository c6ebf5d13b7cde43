"""partial index of bot replies per conversation (dashboard bot containment without a scan of all messages)

Revision ID: 0903
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0903"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_bot_replies",
        "messages",
        ["conversation_id"],
        postgresql_where=sa.text("sender_type = 'bot' AND is_note IS false"),
        sqlite_where=sa.text("sender_type = 'bot' AND is_note IS 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_bot_replies", table_name="messages")
