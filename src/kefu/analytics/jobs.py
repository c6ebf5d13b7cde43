"""Analytics jobs: threshold alerts and the hourly ticket rollups.

Both are `@periodic` jobs (every 5 and 10 minutes).
"""

from __future__ import annotations

from typing import Any

from kefu.analytics import rollups, stats
from kefu.analytics.alerts import sync_all
from kefu.core.db import get_database
from kefu.core.scheduler import periodic


@periodic("analytics.check_alerts", every=300)
def check_alerts(payload: dict[str, Any]) -> None:
    """Raise or clear threshold alerts for every brand (events `analytics.alert` / `analytics.alert_cleared`)."""
    with get_database().session() as session:
        sync_all(session)


@periodic("analytics.rollup", every=600)
def rollup(payload: dict[str, Any]) -> None:
    """Re-derive the recent (and recently touched) hours of the ticket and stat rollups; advance their marks."""
    with get_database().session() as session:
        rollups.refresh(session)
        stats.refresh(session)


@periodic("analytics.org_reports", every=3600)
def org_reports(payload: dict[str, Any]) -> None:
    """E-mail each enabled organization its operations report for the last full period, once per period."""
    from kefu.analytics.org_reports import send_due_reports

    with get_database().session() as session:
        send_due_reports(session)
