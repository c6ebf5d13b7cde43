"""SLA sweep job: evaluates due tickets in committed batches until none is due.

`sla.sweep` and `sla.progress_updates` are `@periodic` jobs (every 60 s).
"""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.sla import updates
from kefu.sla.service import SweepResult, sweep


def sweep_all(batch_size: int = 1000, max_batches: int = 10_000) -> SweepResult:
    """Sweep in batches, one transaction each, so notifications go out as each batch commits."""
    total = SweepResult()
    db = get_database()
    for _ in range(max_batches):
        with db.session() as session:
            result = sweep(session, limit=batch_size)
        total.add(result)
        if result.checked < batch_size:
            break
    return total


@periodic("sla.sweep", every=60)
def sla_sweep(payload: dict[str, Any]) -> None:
    """Evaluate every ticket whose next SLA check time has passed."""
    sweep_all(int(payload.get("batch_size", 1000)))


@periodic("sla.progress_updates", every=60)
def progress_updates(payload: dict[str, Any]) -> None:
    """Record and notify cases that went past their progress-update interval (idempotent per interval)."""
    with get_database().session() as session:
        updates.sweep(session)
