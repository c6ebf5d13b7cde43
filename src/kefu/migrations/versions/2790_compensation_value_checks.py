"""compensation: CHECK constraints on a ledger entry's reason, status and unit

Nothing stopped a row written past the service (an import, a hand-written fix, the brand walk's synthetic row of
every table) from storing a unit such as 'OWNAcompensation', and the ledger page then answered 500. Rows outside the
sets are first mapped so the constraints can be added: an unknown unit becomes minutes with the amount recounted from
the row's own basis and factor (rounded up, as the service does); an unknown reason becomes handling_error (a lead's
manual entry) and an unknown status proposed (back to review, so a lead decides it again). SQLite recreates the table
(batch mode); no table references compensations, so the copy cascades nowhere.

Revision ID: 2790
Revises: 2320
Create Date: 2026-12-07
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2790"
down_revision: str | None = "2320"  # a head after 2270 (which made the table)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of kefu.compensation.models' enums at this revision.
REASONS = ("sla_breach", "handling_error", "outage")
STATUSES = ("proposed", "approved", "granted", "rejected")
UNITS = ("minutes", "hours", "days")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Apply."""
    conn = op.get_bind()
    table = sa.table(
        "compensations",
        sa.column("id", sa.Integer),
        sa.column("reason", sa.String),
        sa.column("status", sa.String),
        sa.column("unit", sa.String),
        sa.column("basis_minutes", sa.Integer),
        sa.column("factor", sa.Float),
        sa.column("amount", sa.Integer),
    )
    stray = conn.execute(
        sa.select(table.c.id, table.c.basis_minutes, table.c.factor).where(table.c.unit.not_in(UNITS))
    ).all()
    for cid, basis, factor in stray:  # only rows written past the service: few, so one update each
        amount = math.ceil(basis * factor - 1e-9)
        conn.execute(sa.update(table).where(table.c.id == cid).values(unit="minutes", amount=amount))
    conn.execute(sa.update(table).where(table.c.reason.not_in(REASONS)).values(reason="handling_error"))
    conn.execute(sa.update(table).where(table.c.status.not_in(STATUSES)).values(status="proposed"))
    with op.batch_alter_table("compensations") as batch_op:
        batch_op.create_check_constraint(op.f("ck_compensations_reason"), _in("reason", REASONS))
        batch_op.create_check_constraint(op.f("ck_compensations_status"), _in("status", STATUSES))
        batch_op.create_check_constraint(op.f("ck_compensations_unit"), _in("unit", UNITS))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("compensations") as batch_op:
        for column in ("reason", "status", "unit"):
            batch_op.drop_constraint(op.f(f"ck_compensations_{column}"), type_="check")
