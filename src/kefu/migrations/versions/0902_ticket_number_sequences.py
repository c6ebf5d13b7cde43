"""ticket numbers on PostgreSQL come from one sequence per brand (no row lock held by ticket-creating transactions)

Revision ID: 0902
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0902"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sequence is created on a brand's first ticket, continuing from its ticket_counters row, so brands created
# by any code path (and databases upgraded with tickets in them) need nothing else.  When two transactions open
# a brand's first ticket at the same moment, the second CREATE waits for the first and then finds the sequence.
FUNCTION = """
CREATE OR REPLACE FUNCTION kefu_next_ticket_number(p_brand integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq_name text := 'ticket_number_seq_' || p_brand;
    start_at bigint;
BEGIN
    IF to_regclass(seq_name) IS NULL THEN
        SELECT COALESCE(MAX(value), 0) + 1 INTO start_at FROM ticket_counters WHERE brand_id = p_brand;
        BEGIN
            EXECUTE format('CREATE SEQUENCE %I START WITH %s', seq_name, COALESCE(start_at, 1));
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- a concurrent transaction created it first
        END;
    END IF;
    RETURN nextval(seq_name);
END $$
"""

# Write each sequence's position back into ticket_counters so the row-lock allocator continues from it.
DOWNGRADE = """
DO $$
DECLARE
    r record;
    last bigint;
BEGIN
    FOR r IN SELECT c.relname, substring(c.relname FROM 'ticket_number_seq_([0-9]+)$')::integer AS brand_id
             FROM pg_class c WHERE c.relkind = 'S' AND c.relname ~ '^ticket_number_seq_[0-9]+$' LOOP
        EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %I', r.relname)
            INTO last;
        INSERT INTO ticket_counters (brand_id, value)
        SELECT r.brand_id, last WHERE EXISTS (SELECT 1 FROM brands WHERE id = r.brand_id)
        ON CONFLICT (brand_id) DO UPDATE SET value = GREATEST(ticket_counters.value, EXCLUDED.value);
        EXECUTE format('DROP SEQUENCE %I', r.relname);
    END LOOP;
END $$
"""


def upgrade() -> None:
    """Install kefu_next_ticket_number() on PostgreSQL (SQLite keeps the counter row: it has one writer anyway)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    """Fold the sequences back into ticket_counters and drop the function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
        op.execute("DROP FUNCTION IF EXISTS kefu_next_ticket_number(integer)")
