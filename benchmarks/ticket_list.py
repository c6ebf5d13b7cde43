"""Ticket list/filter latency at 100k and 1M tickets on SQLite and PostgreSQL (keyset pagination, indexes).

Usage: python benchmarks/ticket_list.py [--sizes 100000,1000000] [--pages 40]
                                        [--pg postgresql://postgres@127.0.0.1:5432/test]
Bulk-inserts tickets (three brands' worth of teams/agents, spread over time), then times `list_tickets` — the
service behind GET /api/v1/tickets — for typical console queries, walking `--pages` pages of 50 by cursor, and
prints p50/p95 per query shape.  Sizes grow incrementally on one database (100k, then 900k more).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import bulk_tickets, each_database

QUERIES: dict[str, dict[str, Any]] = {
    "brand, newest": {},
    "brand+status open": {"status": ["open"]},
    "brand+status open,pending": {"status": ["open", "pending"]},
    "assignee inbox": {"assignee": True},
    "team queue (unassigned)": {"team": True, "unassigned": True},
    "team, newest": {"team": True},
    "category": {"category": "refund"},
    "priority urgent": {"priority": ["urgent"]},
    "by created_at": {"sort": "created_at"},
}


def run(label: str, url: str, sizes: list[int], pages: int) -> None:
    """Grow the table to each size and time the query shapes."""
    from kefu.auth.permissions import Principal, permissions_for
    from kefu.auth.service import create_agent, create_team
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade
    from kefu.tickets.service import list_tickets

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
        agent_id=agent_ids[0],
        email="a0@bench.example",
        name="a0",
        role="agent",
        permissions=permissions_for("agent"),
        brand_ids=frozenset({brand_id}),
        via="token",
        credential_id=0,
    )
    have = 0
    for size in sizes:
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            bulk_tickets(
                conn, brand_id, size - have, start_id=have + 1, team_ids=team_ids, agent_ids=agent_ids, seed=size
            )
        gen = time.perf_counter() - t0
        have = size
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        print(f"{label} @ {size:,} tickets (generated in {gen:.0f} s):")
        for name, q in QUERIES.items():
            kw: dict[str, Any] = {"brand_id": brand_id, "limit": 50}
            if q.get("status"):
                kw["status"] = q["status"]
            if q.get("priority"):
                kw["priority"] = q["priority"]
            if q.get("assignee"):
                kw["assignee_id"] = agent_ids[3]
            if q.get("team"):
                kw["team_id"] = team_ids[2]
            if q.get("unassigned"):
                kw["unassigned"] = True
            if q.get("category"):
                kw["category"] = q["category"]
            if q.get("sort"):
                kw["sort"] = q["sort"]
            lat: list[float] = []
            cursor = None
            with db.session() as s:
                for _ in range(pages):
                    s0 = time.perf_counter()
                    _rows, cursor = list_tickets(s, principal, cursor=cursor, **kw)
                    lat.append((time.perf_counter() - s0) * 1000)
                    if cursor is None:
                        break
            lat.sort()
            p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
            print(f"  {name:<28} p50 {statistics.median(lat):7.1f} ms   p95 {p95:7.1f} ms   ({len(lat)} pages)")
    db.dispose()


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    each_database(args.pg, lambda label, url: run(label, url, sizes, args.pages))


if __name__ == "__main__":
    main()
