"""Analytics jobs: threshold alerts and the hourly ticket rollups.

Scheduled via SCHEDULE (wired by kefu.registry.load_jobs): see SCHEDULE (seconds).
"""

from __future__ import annotations

from typing import Any

from kefu.analytics import rollups
from kefu.analytics.alerts import sync_all
from kefu.core.db import get_database
from kefu.core.jobs import job

SCHEDULE: dict[str, int] = {"analytics.check_alerts": 300, "analytics.rollup": 600}


@job("analytics.check_alerts")
def check_alerts(payload: dict[str, Any]) -> None:
    """Raise or clear threshold alerts for every brand (events `analytics.alert` / `analytics.alert_cleared`)."""
    with get_database().session() as session:
        sync_all(session)


@job("analytics.rollup")
def rollup(payload: dict[str, Any]) -> None:
    """Re-derive the recent hours of the ticket rollups and advance their completeness mark."""
    with get_database().session() as session:
        rollups.refresh(session)
