"""Follow-up planner: every 5 minutes, plan contacts for newly resolved cases and notify due ones (idempotent)."""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.followups.service import plan


@periodic("followups.plan", every=300)
def plan_job(payload: dict[str, Any]) -> None:
    """Plan follow-ups after resolution and notify assignees of attempts that fell due."""
    with get_database().session() as session:
        plan(session)
