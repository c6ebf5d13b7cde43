"""sla: stored calendars use the all-years region holiday sets (tw, cn) instead of the 2026-only bundles

Revision ID: 1700
Revises: 0501
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1700"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
calendars = sa.table("sla_calendars", sa.column("id", sa.Integer), sa.column("config", JSON))
# A calendar installed with the 2026-only set would count the 2027 Lunar New Year as working time.
UP = {"tw_2026": "tw", "cn_2026": "cn"}
DOWN = {v: k for k, v in UP.items()}


def _rename(mapping: dict[str, str]) -> None:
    conn = op.get_bind()
    for row_id, config in conn.execute(sa.select(calendars.c.id, calendars.c.config)).all():
        sets = (config or {}).get("holiday_sets")
        if not sets or not any(s in mapping for s in sets):
            continue
        renamed = list(dict.fromkeys(mapping.get(s, s) for s in sets))
        conn.execute(
            sa.update(calendars).where(calendars.c.id == row_id).values(config={**config, "holiday_sets": renamed})
        )


def upgrade() -> None:
    """Apply."""
    _rename(UP)


def downgrade() -> None:
    """Revert."""
    _rename(DOWN)
