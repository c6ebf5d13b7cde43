"""QA jobs: the daily random sample.

`qa.daily_sample` is a `@periodic` job (hourly); the job is idempotent per brand-day,
so running it hourly is safe and catches up after downtime.
"""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.qa.service import sample_yesterday


@periodic("qa.daily_sample", every=3600)
def daily_sample(payload: dict[str, Any]) -> None:
    """Sample yesterday's closed conversations of every brand into the review queue."""
    with get_database().session() as session:
        sample_yesterday(session)
