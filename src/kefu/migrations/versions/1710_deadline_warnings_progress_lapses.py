"""complaints/sla: due-soon deadline warnings (once per deadline and lead time) and progress-update lapses

Revision ID: 1710
Revises: 1701
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1710"
down_revision: str | None = "1701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "deadline_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.String(32), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", T, nullable=False),
        sa.Column("warned_at", T, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "subject_id", "deadline", "lead_minutes"),
    )
    op.create_index("ix_deadline_warnings_brand_id", "deadline_warnings", ["brand_id"])
    op.create_index("ix_deadline_warnings_ticket_id", "deadline_warnings", ["ticket_id"])
    op.create_table(
        "progress_lapses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("last_update_at", T, nullable=False),
        sa.Column("due_at", T, nullable=False),
        sa.Column("noticed_at", T, nullable=False),
        sa.Column("ended_at", T, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "due_at"),
    )
    op.create_index("ix_progress_lapses_brand_due", "progress_lapses", ["brand_id", "due_at"])
    op.create_index(
        "ix_progress_lapses_open",
        "progress_lapses",
        ["ticket_id"],
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("progress_lapses")
    op.drop_table("deadline_warnings")
