"""Who may operate the job queue, and the views the API and the console page share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.channels.service import failed_events
from kefu.core import jobs
from kefu.core.errors import Forbidden


def ensure_operator(principal: Principal) -> None:
    """Jobs span every brand: only an administrator of all brands may list or retry them."""
    if not principal.can("brands:manage") or principal.brand_ids is not None:
        raise Forbidden.said("err_ops_all_brands")


def overview(session: Session, principal: Principal, limit: int = 100) -> dict[str, Any]:
    """Job counts, dead letters and failed/retrying inbound events."""
    ensure_operator(principal)
    return {
        "counts": jobs.counts(session),
        "dead": jobs.list_jobs(session, "dead", limit),
        "inbound": failed_events(session, None, limit),
    }
