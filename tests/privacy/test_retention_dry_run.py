"""`kefu privacy retention --dry-run [--as-of DATE]` (#17): lists what would be de-identified and why, changes nothing,
and selects exactly what the real run then de-identifies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.conversations.commands import CreateConversation
from tests.test_cli import cli_db as cli_db


def _seed() -> dict[str, int]:
    from kefu.brands.service import create_brand
    from kefu.conversations.service import add_message, create_conversation
    from kefu.core.db import get_database, utcnow
    from kefu.customers.service import create_customer
    from kefu.privacy.service import set_retention
    from kefu.tickets.service import create_ticket

    ids: dict[str, int] = {}
    with get_database().session() as s:
        five = create_brand(s, slug="five", name="Five", ticket_prefix="FV")
        two = create_brand(s, slug="two", name="Two", ticket_prefix="TW")
        set_retention(s, two.id, years=2, enabled=True, actor=None)
        for brand, age_days, key in ((five, 6 * 366, "old"), (five, 4 * 366, "middle"), (two, 3 * 366, "two")):
            at = utcnow() - timedelta(days=age_days)
            cust = create_customer(s, brand_id=brand.id, actor=None, name="林志明", email=f"{key}@example.com")
            cust.created_at = at
            conv = create_conversation(
                s, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line"), actor=None
            )
            add_message(s, conv, sender_type="customer", body="手機 0912345678")
            conv.status, conv.last_message_at = "closed", at
            t = create_ticket(s, actor=None, brand_id=brand.id, subject="舊案 0912345678", customer_id=cust.id)
            t.status, t.closed_at, t.updated_at = "closed", at, at
            ids[f"{key}_conv"], ids[f"{key}_ticket"], ids[f"{key}_customer"] = conv.id, t.id, cust.id
    return ids


@pytest.fixture
def seeded(cli_db: str) -> Iterator[dict[str, int]]:
    from kefu.cli import app

    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    yield _seed()


def _listed(output: str) -> set[tuple[str, int]]:
    return {(line.split("\t")[1], int(line.split("\t")[2])) for line in output.splitlines() if line.count("\t") == 4}


def test_dry_run_lists_candidates_with_reasons_and_the_real_run_matches(seeded: dict[str, int], tmp_path: Path) -> None:
    from sqlalchemy import select

    from kefu.cli import app
    from kefu.core.db import get_database
    from kefu.privacy.models import DeidentifiedRecord

    runner = CliRunner()
    r = runner.invoke(app, ["privacy", "retention", "--dry-run"])
    assert r.exit_code == 0, r.output
    now_listed = _listed(r.stdout)
    assert now_listed == {
        ("conversation", seeded["old_conv"]),
        ("ticket", seeded["old_ticket"]),
        ("customer", seeded["old_customer"]),
        ("conversation", seeded["two_conv"]),
        ("ticket", seeded["two_ticket"]),
        ("customer", seeded["two_customer"]),
    }
    assert "older than the 5-year retention period" in r.stdout and "林志明" not in r.stdout
    assert "below the 5-year minimum" in r.stderr and "[2/2] brand" in r.stderr
    assert "summary: would de-identify 2 conversations, 2 tickets, 2 customers in 2 brand(s)" in r.stdout
    with get_database().session() as s:
        assert s.scalar(select(DeidentifiedRecord.id)) is None  # a dry run changes nothing

    later = runner.invoke(app, ["privacy", "retention", "--dry-run", "--as-of", "2029-01-01"])
    assert later.exit_code == 0 and ("ticket", seeded["middle_ticket"]) in _listed(later.stdout)
    assert runner.invoke(app, ["privacy", "retention", "--as-of", "2029-01-01"]).exit_code == 2  # only with --dry-run
    assert runner.invoke(app, ["privacy", "retention", "--dry-run", "--as-of", "next year"]).exit_code == 2

    assert runner.invoke(app, ["privacy", "retention"]).exit_code == 0
    with get_database().session() as s:
        done = {(kind, rid) for kind, rid in s.execute(select(DeidentifiedRecord.kind, DeidentifiedRecord.record_id))}
    assert done == now_listed
    again = runner.invoke(app, ["privacy", "retention", "--dry-run"])
    assert _listed(again.stdout) == set() and "would de-identify 0 conversations" in again.stdout
