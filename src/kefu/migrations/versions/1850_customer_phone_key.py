"""customers: digits-only phone key, so every way of writing a number finds the customer

Revision ID: 1850
Revises: 1810
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1850"
down_revision: str | None = "1810"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def phone_key(value: str | None) -> str | None:
    """kefu.customers.phones.phone_key as of this revision (a migration must not follow later changes of app code)."""
    if not value:
        return None
    raw = value.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    international = raw.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if international and digits.startswith("886"):
        digits = "0" + digits[3:].lstrip("0")
    elif international:
        digits = "+" + digits
    key = digits if sum(ch.isdigit() for ch in digits) >= 6 else None
    return key if key is None or len(key) <= 32 else None  # a number too long for the column stays unkeyed


def upgrade() -> None:
    """Apply."""
    op.add_column("customers", sa.Column("phone_key", sa.String(length=32), nullable=True))
    op.create_index("ix_customers_brand_id_phone_key", "customers", ["brand_id", "phone_key"])
    conn = op.get_bind()
    customers = sa.table(
        "customers", sa.column("id", sa.Integer), sa.column("phone", sa.String), sa.column("phone_key", sa.String)
    )
    last = 0
    while True:  # batches keep memory flat on large installs
        rows = conn.execute(
            sa.select(customers.c.id, customers.c.phone)
            .where(customers.c.id > last, customers.c.phone.is_not(None))
            .order_by(customers.c.id)
            .limit(2000)
        ).all()
        if not rows:
            break
        for cid, phone in rows:
            conn.execute(sa.update(customers).where(customers.c.id == cid).values(phone_key=phone_key(phone)))
        last = rows[-1][0]


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_customers_brand_id_phone_key", table_name="customers")
    op.drop_column("customers", "phone_key")
