"""Idempotency-key retention: `idempotency.prune` (hourly) deletes keys older than 24 hours."""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.idempotency.service import prune


@periodic("idempotency.prune", every=3600)
def prune_keys(payload: dict[str, Any]) -> None:
    """Forget idempotency keys past their 24 hours."""
    with get_database().session() as session:
        prune(session)
