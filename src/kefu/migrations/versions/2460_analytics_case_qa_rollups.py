"""analytics: indexes for the rolled-up complaints and regulator cases (changed rows, unanswered cases)

Revision ID: 2460
Revises: 2370
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2460"
down_revision: str | None = "2370"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0501"  # indexes complaints and regulator_cases, made by 0501


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_complaints_brand_updated", "complaints", ["brand_id", "updated_at"])
    op.create_index("ix_regulator_cases_brand_updated", "regulator_cases", ["brand_id", "updated_at"])
    op.create_index(
        "ix_regulator_cases_unanswered",
        "regulator_cases",
        ["brand_id", "received_at"],
        postgresql_where=sa.text("replied_at IS NULL AND closed_at IS NULL"),
        sqlite_where=sa.text("replied_at IS NULL AND closed_at IS NULL"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_regulator_cases_unanswered", table_name="regulator_cases")
    op.drop_index("ix_regulator_cases_brand_updated", table_name="regulator_cases")
    op.drop_index("ix_complaints_brand_updated", table_name="complaints")
