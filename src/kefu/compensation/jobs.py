"""Compensation sweep: proposes compensation for SLA targets that were breached and have since been met."""

from __future__ import annotations

from typing import Any

from kefu.compensation.service import propose_for_sla_breaches
from kefu.core.db import get_database
from kefu.core.scheduler import periodic


def sweep_all(batch_size: int = 500, max_batches: int = 1000) -> int:
    """Propose in committed batches until no breached target is left without a proposal."""
    total = 0
    for _ in range(max_batches):
        with get_database().session() as session:
            made = len(propose_for_sla_breaches(session, limit=batch_size))
        total += made
        if made < batch_size:
            break
    return total


@periodic("compensation.sla_breaches", every=300)
def sla_breaches(payload: dict[str, Any]) -> None:
    """Propose compensation for newly met, breached SLA targets (idempotent: one per case and target)."""
    sweep_all(int(payload.get("batch_size", 500)))
