"""callbacks: digits-only phone key, so the public cap on open call-backs counts every spelling of a number as one

Revision ID: 2760
Revises: 2310
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2760"
down_revision: str | None = "2310"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "1712"  # the callbacks table (made by 1712 on another branch)


def _phone_key(value: str | None) -> str | None:
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
    return digits if sum(ch.isdigit() for ch in digits) >= 6 else None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("phone_key", sa.String(length=32), nullable=True))
    op.create_index("ix_callbacks_brand_phone_key", "callbacks", ["brand_id", "phone_key"])
    conn = op.get_bind()
    callbacks = sa.table(
        "callbacks", sa.column("id", sa.Integer), sa.column("phone", sa.String), sa.column("phone_key", sa.String)
    )
    last = 0
    while True:  # batches keep memory flat on large installs
        rows = conn.execute(
            sa.select(callbacks.c.id, callbacks.c.phone)
            .where(callbacks.c.id > last)
            .order_by(callbacks.c.id)
            .limit(2000)
        ).all()
        if not rows:
            break
        for cid, phone in rows:
            key = _phone_key(phone)
            if key is not None:
                conn.execute(sa.update(callbacks).where(callbacks.c.id == cid).values(phone_key=key))
        last = rows[-1][0]


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_callbacks_brand_phone_key", table_name="callbacks")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("phone_key")
