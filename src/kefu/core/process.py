"""Interpreter settings of a long-running kefu process (`kefu serve` workers): garbage collector and GIL hand-over.

Measured on `benchmarks/sqlite_tail.py --mode http` (docs/DEVELOPING.md, "SQLite tail latency"): a full (oldest
generation) collection walks every object left by start-up — modules, SQLAlchemy mappers, FastAPI routes — and
stopped the process for 160–230 ms of CPU (0.4–1.3 s of wall time on the loaded machine), with the SQLite write
turn held if it came inside a write transaction. And a thread that returns from SQLite (which releases the GIL
for every statement) waits up to the switch interval (5 ms by default) for a CPU-bound thread to hand the GIL
back: a write transaction of 15 statements held the write turn 40–80 ms for 3–5 ms of CPU.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005


def settle() -> None:
    """Once start-up is done: freeze the start-up heap out of the collector's reach and hand the GIL over sooner."""
    gc.collect()  # what start-up left as garbage goes now, not into the permanent generation
    gc.freeze()  # later collections walk only objects made after start-up
    sys.setswitchinterval(SWITCH_INTERVAL)
