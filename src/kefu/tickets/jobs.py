"""Ticket housekeeping jobs: auto-close resolved tickets, prune progress-query attempts.

Both are `@periodic` jobs (hourly and daily).
"""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.tickets.progress import prune_attempts
from kefu.tickets.service import auto_close_resolved


@periodic("tickets.auto_close", every=3600)
def auto_close(payload: dict[str, Any]) -> None:
    """Close tickets resolved longer ago than their brand's auto_close_days, in batches."""
    batch = int(payload.get("batch_size", 500))
    while True:
        with get_database().session() as session:
            n = auto_close_resolved(session, limit=batch)
        if n < batch:
            return


@periodic("tickets.prune_progress_attempts", every=86400)
def prune(payload: dict[str, Any]) -> None:
    """Forget progress-query attempts older than a week."""
    with get_database().session() as session:
        prune_attempts(session)
