"""Console page: the follow-up queue (回訪) with an outcome form per contact (HTMX)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, ProblemError
from kefu.followups import service
from kefu.tickets.listing import LocalTime, brand_zones
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/follow-ups")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


@router.get("", response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx, db: DB, status: str = "pending", mine: bool = False) -> HTMLResponse:
    """Pending follow-ups, earliest due first (or the latest recorded ones)."""
    _need(ctx, "tickets:read")
    status = status if status in ("pending", "done") else "pending"
    rows = service.queue(db, ctx.principal, status=status, assignee_id=ctx.agent.id if mine else None)
    zones = brand_zones(db, ctx.principal.brand_ids)
    return render(
        request,
        ctx,
        "casework/follow_ups.html",
        rows=rows,
        qstatus=status,
        mine=mine,
        now=utcnow(),
        local=LocalTime(zones),
        zone_names=sorted({z.key for z in zones.values()}) or ["Asia/Taipei"],
    )


@router.post("/{follow_up_id}/outcome", response_class=HTMLResponse)
def outcome(request: Request, follow_up_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Record a contact's outcome; returns the updated row."""
    _need(ctx, "tickets:write")
    f = service.get_follow_up(db, follow_up_id, ctx.principal)
    error = ""
    try:
        service.record_outcome(db, f, ctx.principal, str(form.get("outcome", "")), str(form.get("note", ""))[:4000])
    except ProblemError as exc:
        error = error_text(ctx, exc)
    rows = service.queue(db, ctx.principal, status=f.status, limit=1, ticket_id=f.ticket_id, follow_up_id=f.id)
    zones = brand_zones(db, {f.brand_id})
    return render(
        request,
        ctx,
        "casework/_follow_up_row.html",
        status=422 if error else 200,
        row=rows[0],
        error=error,
        now=utcnow(),
        local=LocalTime(zones),
    )
