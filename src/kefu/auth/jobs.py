"""Auth housekeeping jobs (pruning expired sessions and old login attempts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from kefu.auth.models import AuthSession, LoginAttempt
from kefu.core.db import get_database, utcnow
from kefu.core.jobs import job


@job("housekeeping.prune")
def prune(payload: dict[str, Any]) -> None:
    """Delete sessions expired for over a day and login attempts older than `days` (default 30)."""
    days = int(payload.get("days", 30))
    now = utcnow()
    with get_database().session() as session:
        session.execute(delete(AuthSession).where(AuthSession.expires_at < now - timedelta(days=1)))
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=days)))
