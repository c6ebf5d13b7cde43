"""SLA sweep over N open tickets (default 1,000,000): bulk-generate SLA state, time one sweep pass.

Usage: python benchmarks/sla_sweep.py [--n 1000000] [--due 10000] [--batch 1000]
                                      [--pg postgresql://postgres@127.0.0.1:5432/test]
Every ticket has SLA state with a first-response target; `--due` of them have a next check time in the past
(the rest are due in the future), so the pass must find and evaluate exactly those through the
`ix_ticket_sla_next_check_at` index without touching the others.  Prints rows generated, the time of one full
pass (batches committed one by one, as the `sla.sweep` job does), tickets/s, and the cost of an idle probe.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import bulk_tickets, each_database


def run(label: str, url: str, n: int, due: int, batch: int) -> None:
    """Generate, then sweep once."""
    from sqlalchemy import insert, select

    from kefu.brands.service import create_brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.sla.models import SlaPolicyRecord, TicketSla, TicketSlaTarget
    from kefu.sla.policy import DEFAULT_POLICIES
    from kefu.sla.service import install_defaults, policy_definition, sweep

    runtime.current().provide(BUS, MemoryBus())
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        brand = create_brand(s, slug="bench", name="bench", ticket_prefix="BM")
        install_defaults(s, brand.id, None)
        brand_id = brand.id
        rec = s.scalar(select(SlaPolicyRecord).where(SlaPolicyRecord.name == "security.account_anomaly"))
        assert rec is not None
        policy_id, definition = (
            rec.id,
            policy_definition(next(p for p in DEFAULT_POLICIES if p.name == "security.account_anomaly")),
        )
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        base = bulk_tickets(conn, brand_id, n, open_only=True)
        chunk: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        for i in range(1, n + 1):
            created = base - timedelta(minutes=n - i)
            # Due rows: a warning or breach check already passed; the rest are due days ahead.
            nxt = base - timedelta(seconds=i) if i <= due else base + timedelta(days=2, seconds=i)
            chunk.append(
                {
                    "ticket_id": i,
                    "brand_id": brand_id,
                    "policy_id": policy_id,
                    "policy_name": "security.account_anomaly",
                    "policy": definition,
                    "status": "running",
                    "breached": False,
                    "escalation_level": 0,
                    "next_check_at": nxt,
                    "milestones": {},
                    "updated_at": created,
                }
            )
            targets.append(
                {
                    "ticket_id": i,
                    "brand_id": brand_id,
                    "key": "first_response",
                    "kind": "first_response",
                    "business": False,
                    "started_at": created,
                    "due_at": created + timedelta(minutes=15),
                    "warn_at": created + timedelta(minutes=12),
                    "status": "running",
                    "escalation_level": 0,
                }
            )
            if len(chunk) >= 20_000:
                conn.execute(insert(TicketSla), chunk)
                conn.execute(insert(TicketSlaTarget), targets)
                chunk, targets = [], []
        if chunk:
            conn.execute(insert(TicketSla), chunk)
            conn.execute(insert(TicketSlaTarget), targets)
    gen = time.perf_counter() - t0
    if label == "postgresql":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    now = base
    t1 = time.perf_counter()
    checked = batches = 0
    while True:
        with db.session() as s:
            result = sweep(s, now, limit=batch)
        checked += result.checked
        batches += 1
        if result.checked < batch:
            break
    dt = time.perf_counter() - t1
    t2 = time.perf_counter()
    with db.session() as s:
        idle = sweep(s, now, limit=batch)
    probe = (time.perf_counter() - t2) * 1000
    with db.session() as s:
        remaining = s.scalar(select(TicketSla.ticket_id).where(TicketSla.next_check_at <= now).limit(1))
    print(
        f"{label}: {n:,} open tickets with SLA state generated in {gen:.0f} s; one sweep pass evaluated "
        f"{checked:,} due tickets in {dt:.2f} s ({checked / dt:,.0f} tickets/s, {batches} batches of {batch}); "
        f"idle probe {probe:.1f} ms (checked {idle.checked}); still due after pass: {remaining is not None}"
    )
    db.dispose()


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--due", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    each_database(args.pg, lambda label, url: run(label, url, args.n, args.due, args.batch))


if __name__ == "__main__":
    main()
