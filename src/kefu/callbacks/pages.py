"""Console page: call-backs to make now, booked and missed, with an outcome form per call (HTMX)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.callbacks import service
from kefu.core.errors import Forbidden, ProblemError
from kefu.tickets.listing import LocalTime, brand_zones
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/callbacks")
VIEWS = {"due": ("due",), "booked": ("booked",), "missed": ("missed",)}


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


@router.get("", response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx, db: DB, view: str = "due", mine: bool = False) -> HTMLResponse:
    """The call-back queue in the brand's timezone."""
    _need(ctx, "tickets:read")
    view = view if view in VIEWS else "due"
    rows = service.queue(db, ctx.principal, statuses=VIEWS[view], assignee_id=ctx.agent.id if mine else None)
    zones = brand_zones(db, ctx.principal.brand_ids)
    return render(
        request,
        ctx,
        "casework/callbacks.html",
        rows=rows,
        view=view,
        mine=mine,
        local=LocalTime(zones),
        links=service.video_links(db, [c for c, _ in rows]),
        same_number=service.same_number(db, [c for c, _ in rows]),
        zone_names=sorted({z.key for z in zones.values()}) or ["Asia/Taipei"],
    )


@router.post("/{callback_id}/done", response_class=HTMLResponse)
def done(request: Request, callback_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Record the call; returns the updated row."""
    _need(ctx, "tickets:write")
    cb = service.get_callback(db, callback_id, ctx.principal)
    error = ""
    try:
        service.complete(db, cb, ctx.principal, str(form.get("outcome", "")), str(form.get("note", ""))[:4000])
    except ProblemError as exc:
        error = error_text(ctx, exc)
    row = service.queue(db, ctx.principal, statuses=(cb.status,), callback_id=cb.id)[0]
    return render(
        request,
        ctx,
        "casework/_callback_row.html",
        status=422 if error else 200,
        row=row,
        error=error,
        local=LocalTime(brand_zones(db, {cb.brand_id})),
        links=service.video_links(db, [cb]),
        same_number=service.same_number(db, [cb]),
    )
