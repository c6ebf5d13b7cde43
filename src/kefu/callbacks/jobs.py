"""Call-back sweep, every minute: reminders, queue at the appointment time, missed flags (each once)."""

from __future__ import annotations

from typing import Any

from kefu.callbacks.service import sweep
from kefu.core.db import get_database
from kefu.core.scheduler import periodic


@periodic("callbacks.sweep", every=60)
def sweep_job(payload: dict[str, Any]) -> None:
    """Remind agents, queue due call-backs and flag missed ones."""
    with get_database().session() as session:
        sweep(session)
