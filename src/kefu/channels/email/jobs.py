"""Email jobs."""

from __future__ import annotations

from typing import Any

from kefu.channels.email.imap import poll
from kefu.core.jobs import job


@job("channels.email.poll_imap")
def poll_imap(payload: dict[str, Any]) -> None:
    """Fetch new mail of one IMAP-configured inbox (idempotent: UID cursor + Message-ID dedupe)."""
    poll(int(payload["inbox_id"]))
