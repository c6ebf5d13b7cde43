"""Freeze webhook delivery: one job per request, after the request's commit; retried with backoff on failure."""

from __future__ import annotations

from typing import Any

from kefu.account_security.service import FREEZE_JOB, RetryLater, deliver_freeze
from kefu.core.db import get_database
from kefu.core.jobs import job


@job(FREEZE_JOB)
def freeze_webhook_job(payload: dict[str, Any]) -> None:
    """Call the brand's freeze webhook; the attempt is committed before a retryable failure is raised."""
    with get_database().session() as session:
        try:
            deliver_freeze(session, int(payload["request_id"]))
        except RetryLater:
            session.commit()  # keep the attempt count and error; the runner retries the job
            raise
