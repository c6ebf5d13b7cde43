"""Ticket list/filter latency at 100k and 1M tickets on SQLite and PostgreSQL (keyset pagination, indexes).

Usage: python benchmarks/ticket_list.py [--sizes 100000,1000000] [--pages 40]
                                        [--pg postgresql://postgres@127.0.0.1:5432/test]
Bulk-inserts tickets (three brands' worth of teams/agents, spread over time), then times `list_tickets` — the
service behind GET /api/v1/tickets — for typical console queries, walking `--pages` pages of 50 by cursor, and
prints p50/p95 per query shape.  Sizes grow incrementally on one database (100k, then 900k more).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import PageFn, size_main, ticket_world, time_views

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
    from kefu.tickets.service import list_tickets

    world = ticket_world(url)
    principal = world.principal(0)

    def view(q: dict[str, Any]) -> PageFn:
        kw: dict[str, Any] = {"brand_id": world.brand_id, "limit": 50}
        for key in ("status", "priority", "category", "sort", "unassigned"):
            if q.get(key):
                kw[key] = q[key]
        if q.get("assignee"):
            kw["assignee_id"] = world.agent_ids[3]
        if q.get("team"):
            kw["team_id"] = world.team_ids[2]
        return lambda s, cursor, now: list_tickets(s, principal, cursor=cursor, **kw)

    time_views(label, world, sizes, pages, {name: view(q) for name, q in QUERIES.items()})


if __name__ == "__main__":
    size_main(run, pages=40)
