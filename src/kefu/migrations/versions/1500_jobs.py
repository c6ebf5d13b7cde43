"""durable jobs (transactional outbox for background work)

Revision ID: 1500
Revises: 0201
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "1500"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=160), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_priority_run_at", "jobs", ["status", "priority", "run_at"])
    op.create_index("ix_jobs_key_status", "jobs", ["key", "status"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_jobs_key_status", table_name="jobs")
    op.drop_index("ix_jobs_status_priority_run_at", table_name="jobs")
    op.drop_table("jobs")
