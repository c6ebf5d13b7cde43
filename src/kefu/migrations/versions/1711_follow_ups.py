"""followups: follow-up visit rules and attempts (回訪)

Revision ID: 1711
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1711"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "follow_up_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("within_days", sa.Integer(), nullable=False),
        sa.Column("first_after_hours", sa.Integer(), nullable=False),
        sa.Column("stop_when_reached", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "name"),
    )
    op.create_index("ix_follow_up_rules_brand_id", "follow_up_rules", ["brand_id"])
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule_id", sa.Integer(), sa.ForeignKey("follow_up_rules.id", ondelete="SET NULL"), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("of_attempts", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("due_at", T, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("done_at", T, nullable=True),
        sa.Column("done_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("notified_at", T, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "rule_id", "attempt"),
    )
    op.create_index("ix_follow_ups_ticket_id", "follow_ups", ["ticket_id"])
    op.create_index("ix_follow_ups_assignee_id", "follow_ups", ["assignee_id"])
    op.create_index("ix_follow_ups_brand_due", "follow_ups", ["brand_id", "due_at"])
    op.create_index(
        "ix_follow_ups_pending_due",
        "follow_ups",
        ["due_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("follow_ups")
    op.drop_table("follow_up_rules")
