"""Console page: complaint and regulator deadlines due soon, and cases overdue for a progress update."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.complaints import due_soon
from kefu.core.errors import Forbidden
from kefu.sla import updates
from kefu.tickets.listing import LocalTime, brand_zones, humanize
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console")


@router.get("/deadlines", response_class=HTMLResponse)
def deadlines(request: Request, ctx: Ctx, db: DB, within_hours: int = 72) -> HTMLResponse:
    """What falls due in the next `within_hours` (complaints, regulator letters) and progress updates overdue now."""
    if not ctx.principal.can("tickets:read"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:read")
    within_hours = min(max(within_hours, 1), 720)
    items = due_soon.due_soon(db, ctx.principal, within_hours=within_hours)
    lapses = updates.overdue(db, ctx.principal)
    zones = brand_zones(db, ctx.principal.brand_ids)
    return render(
        request,
        ctx,
        "casework/deadlines.html",
        items=items,
        lapses=lapses,
        local=LocalTime(zones),
        zone_names=sorted({z.key for z in zones.values()}) or ["Asia/Taipei"],
        within_hours=within_hours,
        humanize=humanize,
    )
