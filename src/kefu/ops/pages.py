"""Console page for operators: job counts, dead-lettered jobs and failed inbound events, with retry buttons."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from kefu.auth.deps import DB
from kefu.channels.service import requeue_event
from kefu.core import catalog, jobs
from kefu.ops.service import ensure_operator, overview
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/ops")

# Its words are the ops_* catalog entries, written per locale (not converted).


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Counts, dead letters and failed inbound events."""
    data = overview(db, ctx.principal)
    return render(request, ctx, "ops/jobs.html", o=catalog.section(ctx.locale, "ops_"), **data)


@router.post("/jobs/retry", response_model=None)
def retry_dead(ctx: Ctx, db: DB, job_id: int | None = None) -> RedirectResponse:
    """Retry one dead job (or all of them)."""
    ensure_operator(ctx.principal)
    jobs.retry(db, job_id)
    return RedirectResponse("/ops/jobs", status_code=303)


@router.post("/inbound/{event_id}/requeue", response_model=None)
def requeue(event_id: int, ctx: Ctx, db: DB) -> RedirectResponse:
    """Process a failed inbound event again."""
    ensure_operator(ctx.principal)
    requeue_event(db, event_id)
    return RedirectResponse("/ops/jobs", status_code=303)
