"""Background privacy work: retention de-identification in batches, one transaction per batch."""

from __future__ import annotations

from typing import Any

from kefu.core.db import SessionFactory, get_database, session_scope, utcnow
from kefu.core.scheduler import periodic
from kefu.privacy.service import run_retention

MAX_BATCHES = 10_000  # a runaway guard; a real backlog finishes long before this


def retention_sweep(
    factory: SessionFactory, *, batch: int = 500, brand_id: int | None = None, max_batches: int = MAX_BATCHES
) -> dict[int, dict[str, int]]:
    """Run retention batches until every brand reports nothing left; returns the totals per brand."""
    now = utcnow()  # one cut-off for the whole sweep
    totals: dict[int, dict[str, int]] = {}
    for _ in range(max_batches):
        with session_scope(factory) as session:
            result = run_retention(session, now=now, batch=batch, brand_id=brand_id)
        busy = False
        for bid, counts in result.items():
            agg = totals.setdefault(bid, {})
            for k, v in counts.items():
                agg[k] = agg.get(k, 0) + v
            busy = busy or any(counts.get(k, 0) for k in ("conversations", "tickets", "customers"))
        if not busy:
            break
    return totals


# Daily de-identification of records past their retention period.
@periodic("privacy.retention", every=86400)
def retention_job(payload: dict[str, Any]) -> None:
    """De-identify closed records older than each brand's retention period."""
    brand = payload.get("brand_id")
    retention_sweep(
        get_database().sessionmaker,
        batch=int(payload.get("batch", 500)),
        brand_id=int(brand) if brand is not None else None,
    )
