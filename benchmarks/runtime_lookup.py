"""CPU per component lookup through the runtime container (get_database/get_bus/get_queue, asked on every request).

Usage: python benchmarks/runtime_lookup.py [--n 200000] [--rounds 3]
Prints ns of CPU per lookup, without and with a test override installed (the override path is what the suite runs).
Compare against another checkout by running it with PYTHONPATH=<that checkout>/src in alternating rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def per_call_ns(n: int) -> float:
    """CPU nanoseconds per getter call, over n rounds of three getters."""
    from kefu.core.db import get_database
    from kefu.core.events import get_bus
    from kefu.core.jobs import get_queue

    get_database(), get_bus(), get_queue()  # built once, outside the timing
    started = time.process_time()
    for _ in range(n):
        get_database()
        get_bus()
        get_queue()
    return (time.process_time() - started) / (3 * n) * 1e9


def main() -> None:
    """Alternate plain and overridden rounds and print each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from kefu.core import runtime
    from kefu.core.events import BUS, MemoryBus

    for r in range(args.rounds):
        print(f"round {r + 1}: wired {per_call_ns(args.n):.0f} ns/lookup", end="; ")
        with runtime.override(BUS, MemoryBus()):
            print(f"with an override {per_call_ns(args.n):.0f} ns/lookup")


if __name__ == "__main__":
    main()
