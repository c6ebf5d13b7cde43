"""brands: one ticket prefix per brand (numbers are drawn per brand and unique install-wide)

Two brands on one prefix (the old default "KF" for every brand) both drew KF-000001, so the second brand could open
no ticket. Brands sharing a prefix keep it on the oldest; the others get one made from their slug (as
kefu.brands.service.free_prefix does), then the prefix is unique.

Revision ID: 2780
Revises: 2770
Create Date: 2026-12-07
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2780"
down_revision: str | None = "2770"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _free(slug: str, taken: set[str]) -> str:
    """kefu.brands.service.free_prefix's slug rule as of this revision (migrations do not import app code)."""
    stem = re.sub(r"[^A-Z0-9]", "", slug.upper()).lstrip("0123456789")[:6] or "B"
    for n in range(len(taken) + 2):
        candidate = stem if n == 0 else f"{stem[: 8 - len(str(n + 1))]}{n + 1}"
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")


def upgrade() -> None:
    """Apply."""
    conn = op.get_bind()
    brands = sa.table(
        "brands", sa.column("id", sa.Integer), sa.column("slug", sa.String), sa.column("ticket_prefix", sa.String)
    )
    rows = conn.execute(sa.select(brands.c.id, brands.c.slug, brands.c.ticket_prefix).order_by(brands.c.id)).all()
    taken = {prefix for _id, _slug, prefix in rows}
    seen: set[str] = set()
    for bid, slug, prefix in rows:
        if prefix not in seen:
            seen.add(prefix)
            continue
        new = _free(slug, taken)
        taken.add(new)
        conn.execute(sa.update(brands).where(brands.c.id == bid).values(ticket_prefix=new))
    with op.batch_alter_table("brands") as batch:
        batch.create_unique_constraint("uq_brands_ticket_prefix", ["ticket_prefix"])


def downgrade() -> None:
    """Revert (the renamed prefixes stay)."""
    with op.batch_alter_table("brands") as batch:
        batch.drop_constraint("uq_brands_ticket_prefix", type_="unique")
