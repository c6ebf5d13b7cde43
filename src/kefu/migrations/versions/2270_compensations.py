"""compensation: a ledger of compensations owed for SLA breaches, handling errors and outages

Revision ID: 2270
Revises: 2221
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "2270"
down_revision: str | None = "2221"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "compensations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True),
        sa.Column(
            "broadcast_id", sa.Integer(), sa.ForeignKey("notice_broadcasts.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=True),
        sa.Column("basis_minutes", sa.Integer(), nullable=False),
        sa.Column("factor", sa.Float(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("decision_note", sa.String(500), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("approved_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key", name=op.f("uq_compensations_source_key")),
    )
    op.create_index("ix_compensations_brand_id", "compensations", ["brand_id"])
    op.create_index("ix_compensations_customer_id", "compensations", ["customer_id"])
    op.create_index("ix_compensations_ticket_id", "compensations", ["ticket_id"])
    op.create_index("ix_compensations_broadcast_id", "compensations", ["broadcast_id"])
    op.create_index("ix_compensations_brand_status", "compensations", ["brand_id", "status", "created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("compensations")
