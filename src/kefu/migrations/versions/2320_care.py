"""care: care opportunities (customers who look stuck) and the widget's page/step reports

Revision ID: 2320
Revises: 2270
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2320"
down_revision: str | None = "2270"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = ("topic_repeat", "bot_struggle", "stuck_flow", "reopened")
STATUSES = ("open", "reached_out", "converted", "dismissed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "care_opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("detected_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("dismiss_note", sa.Text(), nullable=False),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(_in("reason", REASONS), name=op.f("ck_care_opportunities_reason")),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_care_opportunities_status")),
    )
    op.create_index("ix_care_opportunities_customer_id", "care_opportunities", ["customer_id"])
    op.create_index("ix_care_opportunities_brand_status", "care_opportunities", ["brand_id", "status", "detected_at"])
    op.create_index(
        "uq_care_opportunities_open",
        "care_opportunities",
        ["customer_id", "reason"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "care_flow_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inbox_id", sa.Integer(), sa.ForeignKey("inboxes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_care_flow_events_brand_id", "care_flow_events", ["brand_id"])
    op.create_index("ix_care_flow_events_customer_id", "care_flow_events", ["customer_id"])
    op.create_index("ix_care_flow_events_created_at", "care_flow_events", ["created_at"])
    op.create_index("ix_care_flow_events_visitor_at", "care_flow_events", ["inbox_id", "visitor_id", "created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_table("care_flow_events")
    op.drop_table("care_opportunities")
