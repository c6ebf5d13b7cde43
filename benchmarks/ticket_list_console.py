"""Console ticket list latency (kefu.tickets.listing.list_page, the service behind GET /console/tickets).

Usage: python benchmarks/ticket_list_console.py [--sizes 100000,1000000] [--pages 20]
                                                [--pg postgresql://postgres@127.0.0.1:5432/test]
Bulk-inserts tickets (one brand, 8 teams, 60 agents) with SLA targets for open tickets (about 4% breached and 4%
in their warning window), then walks `--pages` pages of 50 by cursor for each console view and filter, timing the
whole page: the filtered keyset query plus the hydration queries (customers, people, teams, conversations, SLA).
Prints p50/p95 per view; the target is p95 <= 100 ms at 1M tickets.

Measured 2026-12-06 on the shared 2-core dev box (`--sizes 1000000 --pages 10`), p95 per page of 50:
SQLite 5.9-14.0 ms for every view (SLA at risk 14.0); PostgreSQL 8.1-20.1 ms for every view except the SLA
ones: sla=breached 60.8 ms and the SLA-at-risk view 91.5 ms. Those two build the set of unmet targets past their
warning time (about 60k here: 8% of open tickets, far more than a healthy queue has) through the partial indexes
of migration 1801; without them the same view read every SLA target (42 -> 8 ms at 100k).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import bulk_tickets, each_database

QUERIES: dict[str, dict[str, Any]] = {
    "all, recently updated": {},
    "mine (open)": {"view": "mine"},
    "unassigned (open)": {"view": "unassigned"},
    "team queue": {"view": "all", "team": True},
    "SLA at risk view": {"view": "sla"},
    "complaints view": {"view": "complaints"},
    "sla=breached filter": {"sla": "breached"},
    "urgent + open": {"priority": ["urgent"], "status": ["open"]},
    "tag vip": {"tag": "vip"},
    "oldest first": {"sort": "oldest"},
}


def _sla_rows(conn: Any, brand_id: int, first: int, last: int, now: Any, seed: int) -> None:
    from sqlalchemy import insert, select

    from kefu.sla.models import TicketSla, TicketSlaTarget
    from kefu.tickets.models import OPEN_STATUSES, Ticket

    rnd = random.Random(seed)
    ids = list(
        conn.execute(
            select(Ticket.id).where(Ticket.id.between(first, last), Ticket.status.in_(OPEN_STATUSES))
        ).scalars()
    )
    slas, targets = [], []
    for tid in ids:
        r = rnd.random()
        # 4% breached, 4% warning, the rest comfortably running.
        due = now - timedelta(minutes=30) if r < 0.04 else now + timedelta(minutes=10 if r < 0.08 else 600)
        slas.append({"ticket_id": tid, "brand_id": brand_id, "policy_name": "bench", "policy": {}, "status": "running"})
        targets.append(
            {
                "ticket_id": tid,
                "brand_id": brand_id,
                "key": "frt",
                "kind": "first_response",
                "started_at": due - timedelta(hours=1),
                "due_at": due,
                "warn_at": due - timedelta(minutes=15),
                "status": "running",
            }
        )
        if len(targets) >= 20_000:
            conn.execute(insert(TicketSla), slas)
            conn.execute(insert(TicketSlaTarget), targets)
            slas, targets = [], []
    if targets:
        conn.execute(insert(TicketSla), slas)
        conn.execute(insert(TicketSlaTarget), targets)


def run(label: str, url: str, sizes: list[int], pages: int) -> None:
    """Grow the table to each size and time the console views."""
    from kefu.auth.permissions import Principal, permissions_for
    from kefu.auth.service import create_agent, create_team
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade
    from kefu.tickets.listing import TicketQuery, list_page

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
        brand_id, team_ids, agent_ids = brand.id, [t.id for t in teams], [a.id for a in agents]
    principal = Principal(
        agent_id=agent_ids[3],
        email="a3@bench.example",
        name="a3",
        role="agent",
        permissions=permissions_for("agent"),
        brand_ids=frozenset({brand_id}),
        via="session",
        credential_id=0,
    )
    have = 0
    now = None
    for size in sizes:
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            base = bulk_tickets(
                conn, brand_id, size - have, start_id=have + 1, team_ids=team_ids, agent_ids=agent_ids, seed=size
            )
            now = now or base
            _sla_rows(conn, brand_id, have + 1, size, now, seed=size)
        gen = time.perf_counter() - t0
        have = size
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        print(f"{label} @ {size:,} tickets (generated in {gen:.0f} s):")
        for name, q in QUERIES.items():
            params: dict[str, Any] = {k: v for k, v in q.items() if k != "team"}
            if q.get("team"):
                params["team_id"] = team_ids[2]
            lat: list[float] = []
            rows_seen = 0
            cursor = None
            with db.session() as s:
                for _ in range(pages):
                    query = TicketQuery.model_validate({**params, "cursor": cursor})
                    s0 = time.perf_counter()
                    rows, cursor = list_page(s, principal, query, now=now)
                    lat.append((time.perf_counter() - s0) * 1000)
                    rows_seen += len(rows)
                    if cursor is None:
                        break
            lat.sort()
            p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
            print(
                f"  {name:<24} p50 {statistics.median(lat):7.1f} ms   p95 {p95:7.1f} ms"
                f"   ({len(lat)} pages, {rows_seen} rows)"
            )
    db.dispose()


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    each_database(args.pg, lambda label, url: run(label, url, sizes, args.pages))


if __name__ == "__main__":
    main()
