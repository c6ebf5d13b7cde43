"""Complaint deadline watch, leader-scheduled every 5 minutes (idempotent: each notice goes out once)."""

from __future__ import annotations

from typing import Any

from kefu.complaints import due_soon
from kefu.complaints.watch import watch
from kefu.core.db import get_database
from kefu.core.scheduler import periodic


@periodic("complaints.watch", every=300)
def watch_job(payload: dict[str, Any]) -> None:
    """Notify about complaints whose deadline passed, and deadlines reaching a configured lead time."""
    with get_database().session() as session:
        watch(session)
        due_soon.warn(session)
