"""tickets: links, timeline, categories, custom fields, classification; routing; SLA state; complaints

Revision ID: 0501
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0501"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ticket, routing, SLA, notification and complaint tables."""
    op.create_table(
        "progress_query_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_query_attempts")),
    )
    with op.batch_alter_table("progress_query_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_progress_query_attempts_ip_at", ["ip", "at"], unique=False)
        batch_op.create_index("ix_progress_query_attempts_number_at", ["number", "at"], unique=False)

    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "definition", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_sla_policies_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("brand_id", "name", name=op.f("uq_sla_policies_brand_id_name")),
    )
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_policies_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "ticket_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label_zh", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("parent_key", sa.String(length=64), nullable=True),
        sa.Column(
            "keywords", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_categories_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_categories")),
        sa.UniqueConstraint("brand_id", "key", name=op.f("uq_ticket_categories_brand_id_key")),
    )
    with op.batch_alter_table("ticket_categories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_categories_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "ticket_field_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label_zh", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "options", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "validation", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_field_definitions_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_field_definitions")),
        sa.UniqueConstraint("brand_id", "key", name=op.f("uq_ticket_field_definitions_brand_id_key")),
    )
    with op.batch_alter_table("ticket_field_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_field_definitions_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "conditions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("set_priority", sa.String(length=16), nullable=True),
        sa.Column("priority_bump", sa.Integer(), nullable=False),
        sa.Column(
            "required_skills",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("stop", sa.Boolean(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_routing_rules_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_routing_rules_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_rules_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "sla_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column(
            "config", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_sla_calendars_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_sla_calendars_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendars")),
        sa.UniqueConstraint("brand_id", "name", "team_id", name=op.f("uq_sla_calendars_brand_id_name_team_id")),
    )
    with op.batch_alter_table("sla_calendars", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_calendars_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "sla_escalation_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_sla_escalation_contacts_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_sla_escalation_contacts_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_sla_escalation_contacts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_escalation_contacts")),
        sa.UniqueConstraint(
            "brand_id",
            "level",
            "agent_id",
            "team_id",
            name=op.f("uq_sla_escalation_contacts_brand_id_level_agent_id_team_id"),
        ),
    )
    with op.batch_alter_table("sla_escalation_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_escalation_contacts_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "team_routing",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("auto_assign", sa.Boolean(), nullable=False),
        sa.Column("last_agent_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_team_routing_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["last_agent_id"], ["agents.id"], name=op.f("fk_team_routing_last_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_routing_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_routing")),
    )
    with op.batch_alter_table("team_routing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_routing_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "classification_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("corrected", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_classification_feedback_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_classification_feedback_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_classification_feedback_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classification_feedback")),
    )
    with op.batch_alter_table("classification_feedback", schema=None) as batch_op:
        batch_op.create_index("ix_classification_feedback_brand_id_id", ["brand_id", "id"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complainant_name", sa.String(length=200), nullable=False),
        sa.Column("complainant_contact", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=500), nullable=False),
        sa.Column("order_number", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("requested_remedy", sa.Text(), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("received_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_due_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply_due_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("task_force_formed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_complaints_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["agents.id"], name=op.f("fk_complaints_created_by_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_complaints_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_complaints_ticket_id")),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_brand_received", ["brand_id", "received_at", "id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_notifications_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_notifications_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_notifications_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_agent_id_id", ["agent_id", "id"], unique=False)

    op.create_table(
        "ticket_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_ticket_activities_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_activities_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_activities_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_activities")),
    )
    with op.batch_alter_table("ticket_activities", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_activities_ticket_id_id", ["ticket_id", "id"], unique=False)

    op.create_table(
        "ticket_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_links_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["agents.id"], name=op.f("fk_ticket_links_created_by_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["tickets.id"], name=op.f("fk_ticket_links_source_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["tickets.id"], name=op.f("fk_ticket_links_target_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_links")),
        sa.UniqueConstraint("source_id", "target_id", "kind", name=op.f("uq_ticket_links_source_id_target_id_kind")),
    )
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_links_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_links_target_id"), ["target_id"], unique=False)

    op.create_table(
        "ticket_sla",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("policy_name", sa.String(length=200), nullable=False),
        sa.Column(
            "policy", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_check_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("survey_sent_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "milestones", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_sla_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["sla_policies.id"], name=op.f("fk_ticket_sla_policy_id_sla_policies"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_sla_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_sla")),
    )
    with op.batch_alter_table("ticket_sla", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_sla_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index("ix_ticket_sla_next_check_at", ["next_check_at"], unique=False)

    op.create_table(
        "ticket_sla_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("started_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_sla_pauses_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_sla_pauses")),
    )
    with op.batch_alter_table("ticket_sla_pauses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_sla_pauses_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_sla_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("business", sa.Boolean(), nullable=False),
        sa.Column("started_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("warn_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("met_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("warned_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("breached_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_ticket_sla_targets_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_sla_targets_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_sla_targets")),
        sa.UniqueConstraint("ticket_id", "key", name=op.f("uq_ticket_sla_targets_ticket_id_key")),
    )
    with op.batch_alter_table("ticket_sla_targets", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_sla_targets_brand_due", ["brand_id", "due_at"], unique=False)

    op.create_table(
        "regulator_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("reference_no", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("coordination_meeting", sa.Boolean(), nullable=False),
        sa.Column("meeting_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replied_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_regulator_cases_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_regulator_cases_complaint_id_complaints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["agents.id"], name=op.f("fk_regulator_cases_created_by_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_regulator_cases_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regulator_cases")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_regulator_cases_ticket_id")),
    )
    with op.batch_alter_table("regulator_cases", schema=None) as batch_op:
        batch_op.create_index("ix_regulator_cases_brand_received", ["brand_id", "received_at", "id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("category_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("category_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_public_update_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_tickets_assignee_updated", ["assignee_id", "updated_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_brand_created", ["brand_id", "created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_index("ix_tickets_status_resolved", ["status", "resolved_at"], unique=False)
        batch_op.create_index("ix_tickets_team_updated", ["team_id", "updated_at", "id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_merged_into_id_tickets"), "tickets", ["merged_into_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_merged_into_id_tickets"), type_="foreignkey")
        batch_op.drop_index("ix_tickets_team_updated")
        batch_op.drop_index("ix_tickets_status_resolved")
        batch_op.drop_index(batch_op.f("ix_tickets_merged_into_id"))
        batch_op.drop_index("ix_tickets_brand_created")
        batch_op.drop_index("ix_tickets_assignee_updated")
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("last_public_update_at")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("category_confidence")
        batch_op.drop_column("category_source")
        batch_op.drop_column("language")

    with op.batch_alter_table("regulator_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_regulator_cases_brand_received")

    op.drop_table("regulator_cases")
    with op.batch_alter_table("ticket_sla_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_sla_targets_brand_due")

    op.drop_table("ticket_sla_targets")
    with op.batch_alter_table("ticket_sla_pauses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_sla_pauses_ticket_id"))

    op.drop_table("ticket_sla_pauses")
    with op.batch_alter_table("ticket_sla", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_sla_next_check_at")
        batch_op.drop_index(batch_op.f("ix_ticket_sla_brand_id"))

    op.drop_table("ticket_sla")
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_links_target_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_links_source_id"))

    op.drop_table("ticket_links")
    with op.batch_alter_table("ticket_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_activities_ticket_id_id")

    op.drop_table("ticket_activities")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_agent_id_id")

    op.drop_table("notifications")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_brand_received")

    op.drop_table("complaints")
    with op.batch_alter_table("classification_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_classification_feedback_brand_id_id")

    op.drop_table("classification_feedback")
    with op.batch_alter_table("team_routing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_routing_brand_id"))

    op.drop_table("team_routing")
    with op.batch_alter_table("sla_escalation_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_escalation_contacts_brand_id"))

    op.drop_table("sla_escalation_contacts")
    with op.batch_alter_table("sla_calendars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_calendars_brand_id"))

    op.drop_table("sla_calendars")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_rules_brand_id"))

    op.drop_table("routing_rules")
    with op.batch_alter_table("ticket_field_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_field_definitions_brand_id"))

    op.drop_table("ticket_field_definitions")
    with op.batch_alter_table("ticket_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_categories_brand_id"))

    op.drop_table("ticket_categories")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_policies_brand_id"))

    op.drop_table("sla_policies")
    with op.batch_alter_table("progress_query_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_query_attempts_number_at")
        batch_op.drop_index("ix_progress_query_attempts_ip_at")

    op.drop_table("progress_query_attempts")
