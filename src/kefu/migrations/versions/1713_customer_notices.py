"""notices: proactive customer notices (case updates, follow-ups, appointment reminders)

Revision ID: 1713
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1713"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0301"  # the outbox table


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "customer_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("outbox_id", sa.Integer(), sa.ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_customer_notices_brand_id", "customer_notices", ["brand_id"])
    op.create_index("ix_customer_notices_ticket_id", "customer_notices", ["ticket_id"])
    op.create_index("ix_customer_notices_customer_id", "customer_notices", ["customer_id"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("customer_notices")
