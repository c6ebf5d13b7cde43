"""Routing jobs: hand queued tickets to agents when capacity frees up or agents come online.

`routing.dispatch_all` is a `@periodic` job (every 60 s).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.core.db import get_database
from kefu.core.jobs import job
from kefu.core.scheduler import periodic
from kefu.routing.models import TeamRouting
from kefu.routing.service import dispatch_queue


@job("routing.dispatch")
def dispatch(payload: dict[str, Any]) -> None:
    """Assign a team's queued tickets."""
    with get_database().session() as session:
        dispatch_queue(session, int(payload["team_id"]))


@periodic("routing.dispatch_all", every=60)
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
