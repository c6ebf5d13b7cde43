"""privacy and security: hash-chained audit log, consent, subject requests, deletion ledger, retention, incidents, password reset

Revision ID: 0701
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0701"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = kefu.core.db.UTCDateTime(timezone=True)


def _set_audit_triggers(enabled: bool) -> None:
    """Lift the append-only guard (from 0002) while backfilling, then restore it."""
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


def _backfill_chain() -> None:
    """Chain existing audit entries in id order and seed the head row."""
    from kefu.audit.chain import GENESIS, HASHED_FIELDS, entry_hash, normalise_details

    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        *(sa.column(n, TS if n == "at" else (JSON if n == "details" else sa.String())) for n in HASHED_FIELDS),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    seq, prev = 0, GENESIS
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    if rows:
        _set_audit_triggers(False)
        for row in rows:
            seq += 1
            values = {n: row[n] for n in HASHED_FIELDS}
            values["actor_id"] = int(values["actor_id"]) if values["actor_id"] is not None else None
            values["brand_id"] = int(values["brand_id"]) if values["brand_id"] is not None else None
            values["details"] = normalise_details(values["details"])
            digest = entry_hash(seq, prev, values)
            bind.execute(
                sa.update(audit)
                .where(audit.c.id == row["id"])
                .values(seq=seq, prev_hash=prev, hash=digest, details=values["details"])
            )
            prev = digest
        _set_audit_triggers(True)
    head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("hash", sa.String()),
        sa.column("updated_at", TS),
    )
    bind.execute(sa.insert(head).values(id=1, seq=seq, hash=prev, updated_at=kefu.core.db.utcnow()))


def upgrade() -> None:
    """Apply."""
    op.add_column("audit_log", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    _backfill_chain()

    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["agents.id"], name=op.f("fk_consent_events_actor_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_consent_events_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_consent_events_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index("ix_consent_events_customer_purpose", "consent_events", ["customer_id", "purpose", "id"])

    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_privacy_requests_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["agents.id"], name=op.f("fk_privacy_requests_requested_by_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index("ix_privacy_requests_brand_id_id", "privacy_requests", ["brand_id", "id"])
    op.create_index(op.f("ix_privacy_requests_customer_id"), "privacy_requests", ["customer_id"])

    op.create_table(
        "deletion_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("identifier_hashes", JSON, nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_ledger")),
    )
    op.create_index(op.f("ix_deletion_ledger_brand_id"), "deletion_ledger", ["brand_id"])
    op.create_index(op.f("ix_deletion_ledger_customer_id"), "deletion_ledger", ["customer_id"])
    op.create_index(op.f("ix_deletion_ledger_subject_hash"), "deletion_ledger", ["subject_hash"])

    op.create_table(
        "retention_policies",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_retention_policies_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["agents.id"], name=op.f("fk_retention_policies_updated_by_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("brand_id", name=op.f("pk_retention_policies")),
    )

    op.create_table(
        "deidentified_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deidentified_records")),
        sa.UniqueConstraint("kind", "record_id", name=op.f("uq_deidentified_records_kind_record_id")),
    )
    op.create_index(op.f("ix_deidentified_records_brand_id"), "deidentified_records", ["brand_id"])

    op.create_table(
        "security_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("affected_records", sa.Integer(), nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("report_due_at", TS, nullable=False),
        sa.Column("form_due_at", TS, nullable=False),
        sa.Column("reported_at", TS, nullable=True),
        sa.Column("form_submitted_at", TS, nullable=True),
        sa.Column("contained_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("review_notes", sa.Text(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_security_incidents_brand_id_brands"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["agents.id"], name=op.f("fk_security_incidents_owner_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["agents.id"], name=op.f("fk_security_incidents_reporter_id_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_incidents")),
    )
    op.create_index(op.f("ix_security_incidents_brand_id"), "security_incidents", ["brand_id"])
    op.create_index("ix_security_incidents_status_detected", "security_incidents", ["status", "detected_at"])

    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_password_reset_requests_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_requests_token_hash")),
    )
    op.create_index(op.f("ix_password_reset_requests_agent_id"), "password_reset_requests", ["agent_id"])
    op.create_index("ix_password_reset_requests_email_at", "password_reset_requests", ["email", "created_at"])
    op.create_index("ix_password_reset_requests_ip_at", "password_reset_requests", ["ip", "created_at"])


def downgrade() -> None:
    """Revert."""
    for table in (
        "password_reset_requests",
        "security_incidents",
        "deidentified_records",
        "retention_policies",
        "deletion_ledger",
        "privacy_requests",
        "consent_events",
        "audit_chain_head",
    ):
        op.drop_table(table)
    op.drop_index("ix_audit_log_seq", table_name="audit_log")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "prev_hash")
    op.drop_column("audit_log", "seq")
