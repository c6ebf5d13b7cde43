"""Console notification badge (live count) and list with "mark all read"."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from kefu.alerts import service
from kefu.auth.deps import DB
from kefu.tickets import listing
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console")


@router.get("/notifications/badge", response_class=HTMLResponse)
def badge(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """The unread count in the top bar (refreshed when a notification arrives)."""
    count = service.unread_count(db, ctx.principal)
    return render(request, ctx, "alerts/_badge.html", count=count, cap=service.BADGE_CAP)


@router.get("/notifications", response_class=HTMLResponse)
def notification_list(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """The agent's newest notifications, unread first marked."""
    rows = service.latest(db, ctx.principal)
    zones = listing.brand_zones(db, {n.brand_id for n in rows if n.brand_id})
    return render(
        request,
        ctx,
        "alerts/notifications.html",
        rows=rows,
        unread=service.unread_count(db, ctx.principal),
        local=listing.LocalTime(zones),
    )


@router.post("/notifications/read-all", response_model=None)
def read_all(ctx: Ctx, db: DB) -> Response:
    """Mark all as read; the list reloads."""
    service.mark_all_read(db, ctx.principal)
    return Response(status_code=204, headers={"HX-Refresh": "true"})
