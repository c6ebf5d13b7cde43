"""SQLite tail latency with many clients: read transactions BEGIN DEFERRED vs. every transaction BEGIN IMMEDIATE.

Usage: python benchmarks/sqlite_tail.py [--clients 32] [--seconds 5] [--rounds 3] [--write-share 0.2] [--think-ms 200]

Each client thread loops: with probability `write-share` it creates a ticket (a writer session), otherwise it
lists 50 tickets (a read session). Mode "immediate" gives the reads the writers' session factory (kefu before #21:
every transaction took the write lock); mode "deferred" gives them Database.read_sessionmaker. Rounds alternate the
modes; the medians over rounds of p50/p99 per operation and of operations/s are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)


SYSTEM: object = None


def _system() -> object:
    from kefu.auth.permissions import Principal

    return Principal(
        agent_id=0,
        email="",
        name="",
        role="admin",
        permissions=frozenset(),
        brand_ids=None,
        via="token",
        credential_id=0,
    )


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def one_round(
    database: object, brand_id: int, mode: str, clients: int, seconds: float, write_share: float, think: float
) -> dict[str, float]:
    """Run the mixed load once; latencies in ms."""
    from kefu.core.db import Database, session_scope
    from kefu.tickets.service import create_ticket, list_tickets

    assert isinstance(database, Database)
    global SYSTEM
    SYSTEM = _system()
    reads_factory = database.read_sessionmaker if mode == "deferred" else database.sessionmaker
    reads: list[float] = []
    writes: list[float] = []
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        my_r: list[float] = []
        my_w: list[float] = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                if rnd.random() < write_share:
                    with session_scope(database.sessionmaker) as s:
                        create_ticket(s, brand_id=brand_id, subject="負載測試", actor=None)
                    my_w.append((time.perf_counter() - t0) * 1000)
                else:
                    with session_scope(reads_factory) as s:
                        list_tickets(s, SYSTEM, brand_id=brand_id, limit=50)
                    my_r.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # report, keep going
                with lock:
                    errors.append(type(exc).__name__)
            time.sleep(rnd.uniform(0, 2 * think))  # think time: a saturated CPU would measure only its own queue
        with lock:
            reads.extend(my_r)
            writes.extend(my_w)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {
        "ops": (len(reads) + len(writes)) / seconds,
        "read_p50": _pct(reads, 0.5),
        "read_p99": _pct(reads, 0.99),
        "write_p50": _pct(writes, 0.5),
        "write_p99": _pct(writes, 0.99),
        "errors": float(len(errors)),
    }


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write-share", type=float, default=0.2)
    ap.add_argument("--think-ms", type=float, default=200, help="mean pause between a client's operations")
    args = ap.parse_args()
    from kefu.brands.service import create_brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.tickets.service import create_ticket

    runtime.current().provide(BUS, MemoryBus())
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/tail.db"
        upgrade(url)
        database = Database(url)
        with database.session() as s:
            brand_id = create_brand(s, slug="tail", name="tail").id
            for i in range(500):
                create_ticket(s, brand_id=brand_id, subject=f"工單 {i}", actor=None)
        results: dict[str, list[dict[str, float]]] = {"immediate": [], "deferred": []}
        for r in range(args.rounds):
            order = ("immediate", "deferred") if r % 2 == 0 else ("deferred", "immediate")
            for mode in order:
                results[mode].append(
                    one_round(
                        database, brand_id, mode, args.clients, args.seconds, args.write_share, args.think_ms / 1000
                    )
                )
        database.dispose()
    print(f"SQLite, {args.clients} clients, {args.write_share:.0%} writes, medians of {args.rounds} alternating rounds")
    for mode, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(
            f"  reads {mode:9}: {med['ops']:6.0f} ops/s; "
            f"read p50 {med['read_p50']:7.1f} ms p99 {med['read_p99']:7.1f} ms; "
            f"write p50 {med['write_p50']:7.1f} ms p99 {med['write_p99']:7.1f} ms; errors {med['errors']:.0f}"
        )


if __name__ == "__main__":
    main()
