"""Shared helpers for the ticket benchmarks: throwaway databases and fast bulk ticket generation."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


# ---------------------------------------------------------------- ticket-list harness (API and console lists)

# One page of a list view: (session, cursor, the generation's base time) -> (rows, next cursor).
PageFn = Callable[[Any, str | None, datetime], tuple[Sequence[Any], str | None]]
# Extra rows for a new slice of tickets: (connection, first id, last id, base time) -> None.
ExtraRows = Callable[[Any, int, int, datetime], None]


@dataclass
class TicketWorld:
    """A migrated throwaway database with one brand, 8 teams and 60 agents to spread tickets over."""

    db: Any
    brand_id: int
    team_ids: list[int]
    agent_ids: list[int]

    def principal(self, index: int = 0, via: str = "token") -> Any:
        """Agent number `index` as a principal of the brand."""
        from kefu.auth.permissions import Principal, permissions_for

        return Principal(
            agent_id=self.agent_ids[index],
            email=f"a{index}@bench.example",
            name=f"a{index}",
            role="agent",
            permissions=permissions_for("agent"),
            brand_ids=frozenset({self.brand_id}),
            via=via,
            credential_id=0,
        )


def ticket_world(url: str) -> TicketWorld:
    """Migrate `url` and create the brand, teams and agents."""
    from kefu.auth.service import create_agent, create_team
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade

    upgrade(url)
    db = Database(url)
    with db.session() as s:
        brand = create_brand(s, slug="bench", name="bench", ticket_prefix="BM")
        teams = [
            create_team(s, brand_id=brand.id, slug=f"t{i}", name=f"t{i}", description="", actor=None) for i in range(8)
        ]
        agents = [
            create_agent(s, email=f"a{i}@bench.example", name=f"a{i}", password="bench password 1", role="agent")
            for i in range(60)
        ]
        return TicketWorld(db, brand.id, [t.id for t in teams], [a.id for a in agents])


def time_views(
    label: str,
    world: TicketWorld,
    sizes: list[int],
    pages: int,
    views: dict[str, PageFn],
    extra: ExtraRows | None = None,
) -> None:
    """Grow the tickets table to each size (plus `extra` rows) and print p50/p95 per page of every view."""
    have = 0
    now: datetime | None = None
    for size in sizes:
        t0 = time.perf_counter()
        with world.db.engine.begin() as conn:
            base = bulk_tickets(
                conn,
                world.brand_id,
                size - have,
                start_id=have + 1,
                team_ids=world.team_ids,
                agent_ids=world.agent_ids,
                seed=size,
            )
            now = now or base
            if extra is not None:
                extra(conn, have + 1, size, now)
        gen = time.perf_counter() - t0
        have = size
        with world.db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        print(f"{label} @ {size:,} tickets (generated in {gen:.0f} s):")
        for name, page in views.items():
            lat: list[float] = []
            rows_seen = 0
            cursor = None
            with world.db.session() as s:
                for _ in range(pages):
                    s0 = time.perf_counter()
                    rows, cursor = page(s, cursor, now)
                    lat.append((time.perf_counter() - s0) * 1000)
                    rows_seen += len(rows)
                    if cursor is None:
                        break
            lat.sort()
            p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
            print(
                f"  {name:<28} p50 {statistics.median(lat):7.1f} ms   p95 {p95:7.1f} ms"
                f"   ({len(lat)} pages, {rows_seen} rows)"
            )
    world.db.dispose()


def size_main(run: Callable[[str, str, list[int], int], None], *, pages: int) -> None:
    """Command line of the list benchmarks: --sizes, --pages, --pg (or KEFU_BENCH_PG)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--pages", type=int, default=pages)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    each_database(args.pg, lambda label, url: run(label, url, sizes, args.pages))
