"""workspace: indexes for the console's SLA-at-risk view

Revision ID: 1801
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1801"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_ticket_sla_status", "ticket_sla", ["status"])
    unmet = sa.text("met_at IS NULL")
    for name, column in (("ix_ticket_sla_targets_open_warn", "warn_at"), ("ix_ticket_sla_targets_open_due", "due_at")):
        op.create_index(name, "ticket_sla_targets", [column], postgresql_where=unmet, sqlite_where=unmet)


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_ticket_sla_targets_open_due", table_name="ticket_sla_targets")
    op.drop_index("ix_ticket_sla_targets_open_warn", table_name="ticket_sla_targets")
    op.drop_index("ix_ticket_sla_status", table_name="ticket_sla")
