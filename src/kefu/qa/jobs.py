"""QA jobs: the daily random sample.

Scheduled via SCHEDULE (wired by kefu.registry.load_jobs): see SCHEDULE (seconds); the job is idempotent per brand-day,
so running it hourly is safe and catches up after downtime.
"""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.jobs import job
from kefu.qa.service import sample_yesterday

SCHEDULE: dict[str, int] = {"qa.daily_sample": 3600}


@job("qa.daily_sample")
def daily_sample(payload: dict[str, Any]) -> None:
    """Sample yesterday's closed conversations of every brand into the review queue."""
    with get_database().session() as session:
        sample_yesterday(session)
