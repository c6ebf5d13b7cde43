"""Security housekeeping: request hits of throttled public routes are only needed for their (short) windows."""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.ratelimit import prune_hits
from kefu.core.scheduler import periodic


@periodic("security.prune_request_hits", every=3600)
def prune_request_hits(payload: dict[str, Any]) -> None:
    """Delete request hits older than a day (every RouteLimit window is shorter)."""
    with get_database().session() as session:
        prune_hits(session)
