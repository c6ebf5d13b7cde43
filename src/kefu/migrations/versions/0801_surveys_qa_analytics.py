"""surveys (CSAT, campaigns), QA sampling and reviews, analytics alerts and dashboard indexes

Revision ID: 0801
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0801"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = kefu.core.db.UTCDateTime(timezone=True)


def _fk(col: str, table: str, ondelete: str, *, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(col, sa.Integer(), sa.ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "csat_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        _fk("ticket_id", "tickets", "CASCADE", nullable=False),
        _fk("conversation_id", "conversations", "SET NULL"),
        _fk("message_id", "messages", "SET NULL"),
        _fk("customer_id", "customers", "SET NULL"),
        _fk("organization_id", "organizations", "SET NULL"),
        _fk("agent_id", "agents", "SET NULL"),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_surveys")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_csat_surveys_ticket_id")),
    )
    op.create_index("ix_csat_surveys_brand_sent", "csat_surveys", ["brand_id", "sent_at"])
    op.create_index("ix_csat_surveys_agent_answered", "csat_surveys", ["agent_id", "answered_at"])

    op.create_table(
        "survey_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dimensions", JSON, nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_zh", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        _fk("created_by", "agents", "SET NULL"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("launched_at", TS, nullable=True),
        sa.Column("closes_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_campaigns")),
    )
    op.create_index("ix_survey_campaigns_brand_id_id", "survey_campaigns", ["brand_id", "id"])

    op.create_table(
        "survey_campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("campaign_id", "survey_campaigns", "CASCADE", nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        _fk("customer_id", "customers", "CASCADE", nullable=False),
        _fk("conversation_id", "conversations", "SET NULL"),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "customer_id", name=op.f("uq_survey_campaign_recipients_campaign_id_customer_id")
        ),
    )
    op.create_index(op.f("ix_survey_campaign_recipients_customer_id"), "survey_campaign_recipients", ["customer_id"])

    op.create_table(
        "survey_campaign_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("campaign_id", "survey_campaigns", "CASCADE", nullable=False),
        _fk("recipient_id", "survey_campaign_recipients", "CASCADE", nullable=False),
        sa.Column("dimension", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_campaign_answers")),
        sa.UniqueConstraint(
            "recipient_id", "dimension", name=op.f("uq_survey_campaign_answers_recipient_id_dimension")
        ),
    )
    op.create_index(
        "ix_survey_campaign_answers_campaign_dimension", "survey_campaign_answers", ["campaign_id", "dimension"]
    )

    op.create_table(
        "qa_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("criteria", JSON, nullable=False),
        sa.Column("pass_score", sa.Float(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scorecards")),
        sa.UniqueConstraint("brand_id", "name", name=op.f("uq_qa_scorecards_brand_id_name")),
    )
    op.create_index(op.f("ix_qa_scorecards_brand_id"), "qa_scorecards", ["brand_id"])

    op.create_table(
        "qa_sample_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_sample_runs")),
        sa.UniqueConstraint("brand_id", "day", name=op.f("uq_qa_sample_runs_brand_id_day")),
    )

    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        _fk("run_id", "qa_sample_runs", "SET NULL"),
        _fk("conversation_id", "conversations", "CASCADE", nullable=False),
        _fk("ticket_id", "tickets", "SET NULL"),
        _fk("agent_id", "agents", "SET NULL"),
        sa.Column("status", sa.String(length=16), nullable=False),
        _fk("scorecard_id", "qa_scorecards", "SET NULL"),
        _fk("reviewer_id", "agents", "SET NULL"),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("accuracy_passed", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_qa_reviews_conversation_id")),
    )
    op.create_index("ix_qa_reviews_brand_status", "qa_reviews", ["brand_id", "status", "id"])
    op.create_index("ix_qa_reviews_brand_reviewed", "qa_reviews", ["brand_id", "reviewed_at"])
    op.create_index(op.f("ix_qa_reviews_agent_id"), "qa_reviews", ["agent_id"])

    op.create_table(
        "analytics_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("brand_id", "brands", "CASCADE", nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("cleared_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_alerts")),
    )
    op.create_index("ix_analytics_alerts_brand_kind_cleared", "analytics_alerts", ["brand_id", "kind", "cleared_at"])

    # Dashboard range scans on other capabilities' tables (declared in kefu.analytics.models).
    op.create_index("ix_tickets_brand_resolved", "tickets", ["brand_id", "resolved_at"])
    op.create_index("ix_conversations_brand_created", "conversations", ["brand_id", "created_at"])
    op.create_index("ix_conversations_customer_created", "conversations", ["customer_id", "created_at"])
    op.create_index("ix_messages_brand_created", "messages", ["brand_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_brand_created", table_name="messages")
    op.drop_index("ix_conversations_customer_created", table_name="conversations")
    op.drop_index("ix_conversations_brand_created", table_name="conversations")
    op.drop_index("ix_tickets_brand_resolved", table_name="tickets")
    for table in (
        "analytics_alerts",
        "qa_reviews",
        "qa_sample_runs",
        "qa_scorecards",
        "survey_campaign_answers",
        "survey_campaign_recipients",
        "survey_campaigns",
        "csat_surveys",
    ):
        op.drop_table(table)
