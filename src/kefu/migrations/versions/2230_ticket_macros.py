"""macros: multi-action ticket macros (status, priority, tags, team, assignee, reply text)

Revision ID: 2230
Revises: 0601
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2230"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "ticket_macros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column(
            "add_tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_macros_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_ticket_macros_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["agents.id"], name=op.f("fk_ticket_macros_assignee_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["agents.id"], name=op.f("fk_ticket_macros_created_by_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_macros")),
        sa.UniqueConstraint("brand_id", "name", name=op.f("uq_ticket_macros_brand_id_name")),
    )
    op.create_index(op.f("ix_ticket_macros_brand_id"), "ticket_macros", ["brand_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_ticket_macros_brand_id"), table_name="ticket_macros")
    op.drop_table("ticket_macros")
