"""Analytics jobs: threshold alerts and the hourly ticket rollups.

Both are `@periodic` jobs (every 5 and 10 minutes).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kefu.analytics import brand_reports as brand_reports_service
from kefu.analytics import org_reports as org_reports_service
from kefu.analytics import rollups, stats
from kefu.analytics.alerts import sync_all
from kefu.core.db import get_database, utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.scheduler import periodic

log = logging.getLogger("kefu.analytics.jobs")


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
    with get_database().session() as session:
        send_due_reports(session)


def send_due_reports(session: Session, now: datetime | None = None) -> int:
    """Send every due report, committing per organization (one failing organization does not hold up the rest)."""
    sent = 0
    for org, settings, key in org_reports_service.due(session, now):
        try:
            if org_reports_service.send(session, org, key, None, now=now, settings=settings) is not None:
                sent += 1
            session.commit()  # the report row, its outbox rows and its audit entry together
        except (Conflict, InvalidInput) as exc:  # no mailbox or no recipients: retried next run, once fixed
            session.rollback()
            log.warning("organization %s report %s not sent: %s", org.id, key, exc)
    return sent


@periodic("analytics.brand_reports", every=900)
def brand_reports(payload: dict[str, Any]) -> None:
    """Mail each brand's weekly report (Monday) and monthly white paper (the 1st) from 08:00 local, once each."""
    with get_database().session() as session:
        send_due_brand_reports(session)


def send_due_brand_reports(session: Session, now: datetime | None = None) -> int:
    """Send every due brand report, committing per brand and kind (one failing brand does not hold up the rest)."""
    now = now or utcnow()
    sent = 0
    for brand, kind in brand_reports_service.due_brands(session, now):
        try:
            if brand_reports_service.send(session, brand, kind, now) is not None:
                sent += 1
            session.commit()  # the report row, its outbox rows and its audit entry together
        except Exception:  # a broken brand is logged and retried next run; the others still go out
            session.rollback()
            log.exception("brand %s %s report not sent", brand.id, kind)
    return sent
