"""quality: root causes, feedback attributions, quarterly improvement plans, third-party audit samples and findings

Revision ID: 2330
Revises: 2270
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "2330"
down_revision: str | None = "2270"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("csat", "campaign", "complaint", "qa", "bot", "audit")
STATUSES = ("open", "in_progress", "done", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kefu.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _fk(name: str, target: str, ondelete: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "quality_causes",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("label_zh_tw", sa.String(100), nullable=False),
        sa.Column("label_zh_cn", sa.String(100), nullable=False),
        sa.Column("label_en", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "key", name=op.f("uq_quality_causes_brand_id_key")),
    )
    op.create_index("ix_quality_causes_brand_id", "quality_causes", ["brand_id"])
    op.create_table(
        "feedback_attributions",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        _fk("ticket_id", "tickets.id", "SET NULL"),
        sa.Column("cause_key", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _ts("occurred_at"),
        _fk("attributed_by", "agents.id", "SET NULL"),
        _ts("attributed_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_feedback_attributions_source_source_id")),
        sa.CheckConstraint(_in("source", SOURCES), name=op.f("ck_feedback_attributions_source")),
    )
    op.create_index("ix_feedback_attributions_ticket_id", "feedback_attributions", ["ticket_id"])
    op.create_index("ix_feedback_attributions_brand_occurred", "feedback_attributions", ["brand_id", "occurred_at"])
    op.create_table(
        "quality_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        sa.Column("quarter", sa.String(6), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        _fk("created_by", "agents.id", "SET NULL"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "quarter", name=op.f("uq_quality_plans_brand_id_quarter")),
    )
    op.create_table(
        "quality_plan_items",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("plan_id", "quality_plans.id", "CASCADE", nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("cause_key", sa.String(32), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        _fk("owner_id", "agents.id", "SET NULL"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verification_note", sa.Text(), nullable=False),
        _ts("completed_at", nullable=True),
        _ts("closed_at", nullable=True),
        _fk("created_by", "agents.id", "SET NULL"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_quality_plan_items_status")),
    )
    op.create_index("ix_quality_plan_items_plan_id", "quality_plan_items", ["plan_id"])
    op.create_index("ix_quality_plan_items_owner_id", "quality_plan_items", ["owner_id"])
    op.create_index("ix_quality_plan_items_brand_status_due", "quality_plan_items", ["brand_id", "status", "due_date"])
    op.create_table(
        "quality_audit_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        sa.Column("quarter", sa.String(6), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("seed", sa.String(40), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column(
            "ticket_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("auditor", sa.String(200), nullable=False),
        _fk("created_by", "agents.id", "SET NULL"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quality_audit_samples_brand_quarter", "quality_audit_samples", ["brand_id", "quarter"])
    op.create_table(
        "quality_audit_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("sample_id", "quality_audit_samples.id", "CASCADE", nullable=False),
        _fk("brand_id", "brands.id", "CASCADE", nullable=False),
        _fk("ticket_id", "tickets.id", "CASCADE", nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=False),
        _fk("imported_by", "agents.id", "SET NULL"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sample_id", "ticket_id", name=op.f("uq_quality_audit_findings_sample_id_ticket_id")),
    )
    op.create_index("ix_quality_audit_findings_ticket_id", "quality_audit_findings", ["ticket_id"])
    op.create_index("ix_quality_audit_findings_brand_created", "quality_audit_findings", ["brand_id", "created_at"])


def downgrade() -> None:
    """Revert."""
    for table in (
        "quality_audit_findings",
        "quality_audit_samples",
        "quality_plan_items",
        "quality_plans",
        "feedback_attributions",
        "quality_causes",
    ):
        op.drop_table(table)
