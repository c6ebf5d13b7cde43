"""sla: brands that installed the seed policies get the default service tier's policy (reply within 1 business day)

Revision ID: 1702
Revises: 1700
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "1702"
down_revision: str | None = "1700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
policies = sa.table(
    "sla_policies",
    sa.column("id", sa.Integer),
    sa.column("brand_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("position", sa.Integer),
    sa.column("is_active", sa.Boolean),
    sa.column("definition", JSON),
    sa.column("created_at", kefu.core.db.UTCDateTime(timezone=True)),
    sa.column("updated_at", kefu.core.db.UTCDateTime(timezone=True)),
)
# Frozen copy of kefu.sla.policy's "standard" seed policy as of this revision.
STANDARD = {
    "conditions": {"tier": "standard"},
    "targets": [
        {"kind": "first_response", "amount": 8, "unit": "business_hours", "label": "reply within 1 business day"},
        {"kind": "csat_survey", "amount": 48, "unit": "hours", "label": "CSAT survey within 48 h of resolution"},
    ],
    "warn_before_percent": 20.0,
    "warn_before_minutes": None,
    "calendar": "business",
    "sets_priority": None,
    "team": None,
    "escalation": {
        "levels": ["agent", "team_lead", "qa_supervisor", "director", "general_manager"],
        "trigger": "breach",
        "climb_every_minutes": 60,
    },
    "description": "一般案件 → 1 個工作天內回覆 (default service tier)",
}


def upgrade() -> None:
    """Apply: next to each brand's seed catch-all `default` policy, unless the brand already has `standard`."""
    conn = op.get_bind()
    seeded = conn.execute(sa.select(policies.c.brand_id, policies.c.position).where(policies.c.name == "default")).all()
    have = set(conn.execute(sa.select(policies.c.brand_id).where(policies.c.name == "standard")).scalars())
    now = datetime.now(UTC)
    for brand_id, position in seeded:
        if brand_id in have:
            continue
        conn.execute(
            sa.insert(policies).values(
                brand_id=brand_id,
                name="standard",
                position=(position or 0) - 5,
                is_active=True,
                definition=STANDARD,
                created_at=now,
                updated_at=now,
            )
        )


def downgrade() -> None:
    """Revert (only rows still equal to the seed)."""
    conn = op.get_bind()
    for row_id, definition in conn.execute(
        sa.select(policies.c.id, policies.c.definition).where(policies.c.name == "standard")
    ).all():
        if definition == STANDARD:
            conn.execute(sa.delete(policies).where(policies.c.id == row_id))
