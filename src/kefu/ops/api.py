"""Jobs API: counts, dead letters and retry; failed inbound events and requeue (administrators of all brands)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.channels.service import failed_events, requeue_event
from kefu.core import jobs
from kefu.core.errors import Conflict, NotFound
from kefu.core.models import Job
from kefu.ops.service import ensure_operator
from kefu.web.routing import Router

router = Router(prefix="/api/v1/ops", tags=["operations"])
Admin = Annotated[Principal, Depends(require("brands:manage"))]


class JobOut(BaseModel):
    """A durable job."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    key: str | None
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    payload: dict[str, Any]
    created_at: datetime


class JobCounts(BaseModel):
    """Jobs per status (done jobs are deleted)."""

    pending: int
    running: int
    dead: int


class InboundEventOut(BaseModel):
    """An inbound event that failed or is being retried."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    inbox_id: int
    channel: str
    provider_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    received_at: datetime


@router.get("/jobs/counts", response_model=JobCounts)
def job_counts(db: DB, principal: Admin) -> JobCounts:
    """How many jobs are pending, running and dead."""
    ensure_operator(principal)
    return JobCounts(**jobs.counts(db))


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(
    db: DB, principal: Admin, status: str = "dead", limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[JobOut]:
    """Jobs by status (dead letters by default; `all` for every status), newest first."""
    ensure_operator(principal)
    rows = jobs.list_jobs(db, None if status == "all" else status, limit)
    return [JobOut.model_validate(r) for r in rows]


@router.post("/jobs/{job_id}/retry", response_model=JobOut)
def retry_job(job_id: int, db: DB, principal: Admin) -> JobOut:
    """Give a dead job a fresh set of attempts."""
    ensure_operator(principal)
    row = db.get(Job, job_id)
    if row is None:
        raise NotFound.said("err_ops_job_not_found", job_id=job_id)
    if row.status != "dead":
        raise Conflict.said("err_ops_job_not_dead", job_id=job_id, status=row.status)
    jobs.retry(db, job_id)
    db.refresh(row)
    return JobOut.model_validate(row)


@router.get("/inbound-events", response_model=list[InboundEventOut])
def list_failed_inbound(
    db: DB, principal: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[InboundEventOut]:
    """Inbound events that failed, or are being retried after an error, newest first."""
    ensure_operator(principal)
    return [InboundEventOut.model_validate(e) for e in failed_events(db, None, limit)]


@router.post("/inbound-events/{event_id}/requeue", response_model=InboundEventOut)
def requeue_inbound(event_id: int, db: DB, principal: Admin) -> InboundEventOut:
    """Process a failed inbound event again, with a fresh set of attempts."""
    ensure_operator(principal)
    return InboundEventOut.model_validate(requeue_event(db, event_id))
