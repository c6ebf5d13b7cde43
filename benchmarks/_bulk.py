"""Shared helpers for the ticket benchmarks: throwaway databases and fast bulk ticket generation."""

from __future__ import annotations

import os
import random
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)

STATUSES = ("new", "open", "open", "open", "pending", "on_hold", "resolved", "closed")
PRIORITIES = ("low", "normal", "normal", "high", "urgent")
CATEGORIES = ("account_anomaly", "payment_failure", "refund", "logistics", "complaint", "system_failure")


def each_database(pg: str | None, fn: Callable[[str, str], None]) -> None:
    """Run fn(label, url) on SQLite and, when configured, PostgreSQL."""
    with tempfile.TemporaryDirectory() as d:
        fn("sqlite", f"sqlite:///{d}/bench.db")
    if pg:
        import psycopg

        name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            fn("postgresql", pg.rsplit("/", 1)[0] + "/" + name)
        finally:
            with psycopg.connect(pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bulk_tickets(
    conn: Any,
    brand_id: int,
    n: int,
    *,
    start_id: int = 1,
    team_ids: list[int] | None = None,
    agent_ids: list[int] | None = None,
    open_only: bool = False,
    chunk: int = 20_000,
    seed: int = 5,
) -> datetime:
    """Insert n tickets with Core executemany in chunks; returns the base time they were spread back from."""
    from sqlalchemy import insert

    from kefu.tickets.models import Ticket

    rnd = random.Random(seed)
    base = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(start_id, start_id + n):
        created = base - timedelta(minutes=n - (i - start_id))
        status = rnd.choice(STATUSES[:6] if open_only else STATUSES)
        rows.append(
            {
                "id": i,
                "brand_id": brand_id,
                "number": f"BM-{i:08d}",
                "subject": f"工單 ticket {i}",
                "description": "",
                "status": status,
                "priority": rnd.choice(PRIORITIES),
                "category": rnd.choice(CATEGORIES),
                "channel": "web_chat",
                "team_id": rnd.choice(team_ids) if team_ids else None,
                "assignee_id": rnd.choice(agent_ids) if agent_ids and rnd.random() < 0.8 else None,
                "tags": ["vip"] if rnd.random() < 0.05 else [],
                "custom_fields": {},
                "created_at": created,
                "updated_at": created + timedelta(minutes=rnd.randint(0, 600)),
                "resolved_at": created + timedelta(hours=2) if status in ("resolved", "closed") else None,
                "reopen_count": 0,
            }
        )
        if len(rows) >= chunk:
            conn.execute(insert(Ticket), rows)
            rows = []
    if rows:
        conn.execute(insert(Ticket), rows)
    return base
