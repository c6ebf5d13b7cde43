"""Notices sweep, every minute: call-back reminders to customers and follow-up announcements (each once)."""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.scheduler import periodic
from kefu.notices.service import announce_follow_ups, remind_callbacks


@periodic("notices.sweep", every=60)
def sweep_job(payload: dict[str, Any]) -> None:
    """Remind customers of call-backs and announce planned follow-ups."""
    with get_database().session() as session:
        remind_callbacks(session)
        announce_follow_ups(session)
