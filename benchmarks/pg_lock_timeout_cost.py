"""What the PostgreSQL write-wait budget costs per transaction: `lock_timeout` as a connect option (what
kefu.core.db.make_engine does) against a `SET LOCAL lock_timeout` in every transaction.

    .venv/bin/python benchmarks/pg_lock_timeout_cost.py [postgresql://postgres@127.0.0.1:5432/test] [rounds] [n]
"""

from __future__ import annotations

import statistics
import sys
import time

from sqlalchemy import text

from kefu.core.db import make_engine


def main() -> None:
    """Alternate the two modes and print the median microseconds per `BEGIN; SELECT 1; COMMIT`."""
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    engine = make_engine(url)

    def run(set_local: bool) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            with engine.begin() as conn:
                if set_local:
                    conn.execute(text("SET LOCAL lock_timeout = 15000"))
                conn.execute(text("SELECT 1"))
        return (time.perf_counter() - t0) / n * 1e6

    with engine.connect() as conn:
        print("lock_timeout of a pooled connection:", conn.execute(text("SHOW lock_timeout")).scalar())
    results: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for mode in (False, True):
            results[mode].append(run(mode))
    print(f"connect option only: median {statistics.median(results[False]):.0f} us/transaction")
    print(f"plus SET LOCAL:      median {statistics.median(results[True]):.0f} us/transaction")
    engine.dispose()


if __name__ == "__main__":
    main()
