"""audit chain keyed with HMAC: key_id column, existing entries re-chained under the current key

Revision ID: 1600
Revises: 0701
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "1600"
down_revision: str | None = "0701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = kefu.core.db.UTCDateTime(timezone=True)


def _set_audit_triggers(enabled: bool) -> None:
    """Lift the append-only guard (from 0002) while re-chaining, then restore it."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            if enabled:
                op.execute(
                    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                )
            else:
                op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb.lower()}")
    else:
        op.execute(f"ALTER TABLE audit_log {'ENABLE' if enabled else 'DISABLE'} TRIGGER audit_log_append_only")


def _audit_table() -> sa.TableClause:
    from kefu.audit.chain import HASHED_FIELDS

    return sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        *(sa.column(n, TS if n == "at" else (JSON if n == "details" else sa.String())) for n in HASHED_FIELDS),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
        sa.column("key_id", sa.String()),
    )


def _rechain(keyed: bool) -> None:
    """Recompute every link in sequence order (keyed with the current key, or unkeyed for the downgrade)."""
    from kefu.audit.chain import GENESIS, HASHED_FIELDS, audit_keys, entry_hash, keyed_hash, normalise_details

    bind = op.get_bind()
    audit = _audit_table()
    key_id, keys = audit_keys()
    seq, prev = 0, GENESIS
    rows = bind.execute(sa.select(audit).where(audit.c.seq.is_not(None)).order_by(audit.c.seq)).mappings().all()
    if rows:
        _set_audit_triggers(False)
        for row in rows:
            seq = int(row["seq"])
            values = {n: row[n] for n in HASHED_FIELDS}
            values["actor_id"] = int(values["actor_id"]) if values["actor_id"] is not None else None
            values["brand_id"] = int(values["brand_id"]) if values["brand_id"] is not None else None
            values["details"] = normalise_details(values["details"])
            if keyed:
                digest, kid = keyed_hash(keys[key_id], key_id, seq, prev, values), key_id
            else:
                digest, kid = entry_hash(seq, prev, values), None
            bind.execute(
                sa.update(audit).where(audit.c.id == row["id"]).values(prev_hash=prev, hash=digest, key_id=kid)
            )
            prev = digest
        _set_audit_triggers(True)
    head = sa.table("audit_chain_head", sa.column("id", sa.Integer()), sa.column("hash", sa.String()))
    bind.execute(sa.update(head).where(head.c.id == 1).values(hash=prev))


def upgrade() -> None:
    """Add audit_log.key_id and re-chain existing entries under the HMAC key (needs KEFU_SECRET_KEY)."""
    op.add_column("audit_log", sa.Column("key_id", sa.String(length=16), nullable=True))
    _rechain(keyed=True)


def downgrade() -> None:
    """Back to the unkeyed chain."""
    _rechain(keyed=False)
    op.drop_column("audit_log", "key_id")
