"""callbacks: call-back appointments (預約回電)

Revision ID: 1712
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1712"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("scheduled_at", T, nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reminded_agent_at", T, nullable=True),
        sa.Column("reminded_customer_at", T, nullable=True),
        sa.Column("queued_at", T, nullable=True),
        sa.Column("missed_at", T, nullable=True),
        sa.Column("done_at", T, nullable=True),
        sa.Column("done_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_callbacks_ticket_id", "callbacks", ["ticket_id"])
    op.create_index("ix_callbacks_customer_id", "callbacks", ["customer_id"])
    op.create_index("ix_callbacks_assignee_id", "callbacks", ["assignee_id"])
    op.create_index("ix_callbacks_brand_scheduled", "callbacks", ["brand_id", "scheduled_at"])
    op.create_index(
        "ix_callbacks_open_scheduled",
        "callbacks",
        ["scheduled_at"],
        postgresql_where=sa.text("status IN ('booked', 'due')"),
        sqlite_where=sa.text("status IN ('booked', 'due')"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("callbacks")
