"""account_security: the security incident ladder (steps, freeze webhooks and requests); milestone targets backfilled

Revision ID: 2300
Revises: 2270
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "2300"
down_revision: str | None = "2270"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = kefu.core.db.UTCDateTime(timezone=True)
# The ladder's milestones of the seed policy `security.account_anomaly` (kefu.sla.policy.SECURITY_LADDER).
LADDER = [
    {"kind": "milestone", "amount": 10, "unit": "minutes", "label": "intervene"},
    {"kind": "milestone", "amount": 15, "unit": "minutes", "label": "freeze"},
    {"kind": "milestone", "amount": 30, "unit": "minutes", "label": "identity_verified"},
    {"kind": "milestone", "amount": 60, "unit": "minutes", "label": "repaired"},
]


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "security_incident_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("at", T, nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "step"),
    )
    op.create_index("ix_security_incident_steps_ticket_id", "security_incident_steps", ["ticket_id"])
    op.create_index("ix_security_incident_steps_brand", "security_incident_steps", ["brand_id", "at"])
    op.create_table(
        "security_freeze_hooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id"),
    )
    op.create_table(
        "security_freeze_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), sa.ForeignKey("brands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("requested_at", T, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("delivered_at", T, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_freeze_requests_brand_id", "security_freeze_requests", ["brand_id"])
    op.create_index("ix_security_freeze_requests_ticket_id", "security_freeze_requests", ["ticket_id"])

    # Brands that installed the seed policies before the ladder existed get its milestones on the account-anomaly
    # policy (policies an admin already gave milestones of their own are left alone).
    policies = sa.table(
        "sla_policies",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("definition", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(policies.c.id, policies.c.definition).where(policies.c.name == "security.account_anomaly")
    )
    for row_id, definition in list(rows):
        data: dict[str, Any] = dict(definition or {})
        targets = list(data.get("targets") or [])
        if any(t.get("kind") == "milestone" for t in targets):
            continue
        first = [t for t in targets if t.get("kind") == "first_response"]
        rest = [t for t in targets if t.get("kind") != "first_response"]
        data["targets"] = [*first, *LADDER, *rest]
        bind.execute(sa.update(policies).where(policies.c.id == row_id).values(definition=data))


def downgrade() -> None:
    """Revert."""
    op.drop_table("security_freeze_requests")
    op.drop_table("security_freeze_hooks")
    op.drop_table("security_incident_steps")
