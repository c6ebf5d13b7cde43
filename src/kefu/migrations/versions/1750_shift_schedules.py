"""shifts: agents' weekly shift patterns per team and dated exceptions (排班)

Revision ID: 1750
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "1750"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "shift_patterns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shift_patterns_brand_id", "shift_patterns", ["brand_id"])
    op.create_index("ix_shift_patterns_agent_id", "shift_patterns", ["agent_id"])
    op.create_index("ix_shift_patterns_team", "shift_patterns", ["team_id", "weekday"])
    op.create_table(
        "shift_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("end_minute", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shift_exceptions_brand_id", "shift_exceptions", ["brand_id"])
    op.create_index("ix_shift_exceptions_agent_id", "shift_exceptions", ["agent_id"])
    op.create_index("ix_shift_exceptions_team_day", "shift_exceptions", ["team_id", "day"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("shift_exceptions")
    op.drop_table("shift_patterns")
