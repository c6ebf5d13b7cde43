"""Care detection, every 5 minutes: raise opportunities for customers who look stuck (idempotent)."""

from __future__ import annotations

from typing import Any

from kefu.care.service import detect
from kefu.core.db import get_database
from kefu.core.scheduler import periodic


@periodic("care.detect", every=300)
def detect_job(payload: dict[str, Any]) -> None:
    """Run every brand's care rules over the recent signals."""
    with get_database().session() as session:
        detect(session)
