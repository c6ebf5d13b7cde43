"""Routing jobs: hand queued tickets to agents when capacity frees up or agents come online.

Scheduled via SCHEDULE (wired by kefu.registry.load_jobs): `routing.dispatch_all` every 60 s — see SCHEDULE.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.core.db import get_database
from kefu.core.jobs import job
from kefu.routing.models import TeamRouting
from kefu.routing.service import dispatch_queue

SCHEDULE: dict[str, int] = {"routing.dispatch_all": 60}


@job("routing.dispatch")
def dispatch(payload: dict[str, Any]) -> None:
    """Assign a team's queued tickets."""
    with get_database().session() as session:
        dispatch_queue(session, int(payload["team_id"]))


@job("routing.dispatch_all")
def dispatch_all(payload: dict[str, Any]) -> None:
    """Assign queued tickets of every auto-assigning team (agents may have come online)."""
    with get_database().session() as session:
        teams = list(
            session.scalars(
                select(TeamRouting.team_id).where(TeamRouting.auto_assign.is_(True), TeamRouting.strategy != "manual")
            )
        )
    for team_id in teams:
        with get_database().session() as session:
            dispatch_queue(session, team_id)
