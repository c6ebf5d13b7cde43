"""Console pages for operators: send an outage notice to the affected customers and follow every delivery."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from kefu.auth.deps import DB
from kefu.brands.service import get_brand, visible_brands
from kefu.core.errors import Forbidden, InvalidInput, ProblemError
from kefu.core.l10n import wall_time
from kefu.notices import broadcasts
from kefu.notices.service import EXTRA_CHANNELS, also_channels
from kefu.tickets.taxonomy import list_categories
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/notices")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _local(value: object, tz: str) -> datetime | None:
    """A datetime-local form value read in the brand's timezone."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return wall_time(text, tz)
    except ValueError as exc:
        raise InvalidInput.said("err_notices_window_dates") from exc


def _audience(ctx: PageContext, db: DB, form: FormData) -> tuple[int, broadcasts.Audience, dict[str, str]]:
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        brand_id = int(values.get("brand_id") or 0)
    except ValueError as exc:
        raise InvalidInput.said("err_notices_choose_brand") from exc
    brand = get_brand(db, brand_id, ctx.principal)
    tz = brand.timezone or "Asia/Taipei"
    audience = broadcasts.Audience(
        category=values.get("category") or None,
        tag=(values.get("tag") or "").strip() or None,
        since=_local(values.get("since"), tz),
        until=_local(values.get("until"), tz),
        open_only=values.get("open_only") == "on",
    )
    values["channels"] = ",".join(str(c) for c in form.getlist("channels"))
    return brand_id, audience, values


@router.get("", response_class=HTMLResponse)
def outages(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """The outage notice form and the recent notices with their delivery counts."""
    _need(ctx, "tickets:read")
    brands = visible_brands(db, ctx.principal)
    categories = {b.id: list_categories(db, b.id, ctx.principal) for b in brands}
    return render(
        request,
        ctx,
        "notices/outages.html",
        brands=brands,
        categories=categories,
        defaults={b.id: also_channels(b, "outage") for b in brands},
        zones={b.id: b.timezone or "Asia/Taipei" for b in brands},
        extra_channels=EXTRA_CHANNELS,
        rows=broadcasts.list_broadcasts(db, ctx.principal),
        can_send=ctx.principal.can("teams:manage"),
    )


@router.post("/preview", response_class=HTMLResponse)
def preview(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """How many customers the chosen audience reaches (nothing is sent)."""
    _need(ctx, "teams:manage")
    error, tickets = "", []
    try:
        brand_id, audience, _ = _audience(ctx, db, form)
        tickets = broadcasts.preview(db, brand_id, audience, ctx.principal)
    except ProblemError as exc:
        error = error_text(ctx, exc)
    return render(
        request,
        ctx,
        "notices/_preview.html",
        status=422 if error else 200,
        error=error,
        count=min(len(tickets), broadcasts.MAX_RECIPIENTS),
        too_many=len(tickets) > broadcasts.MAX_RECIPIENTS,
        sample=tickets[:5],
    )


@router.post("/outages", response_class=HTMLResponse)
def send(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> Response:
    """Send the outage notice, then show its deliveries (HX-Redirect)."""
    _need(ctx, "teams:manage")
    try:
        brand_id, audience, values = _audience(ctx, db, form)
        row = broadcasts.broadcast_outage(
            db,
            brand_id,
            ctx.principal,
            title=values.get("title", ""),
            body=values.get("body", ""),
            audience=audience,
            channels=[c for c in values["channels"].split(",") if c],
        )
    except ProblemError as exc:
        return render(request, ctx, "notices/_preview.html", status=422, error=error_text(ctx, exc), count=0, sample=[])
    return Response(status_code=200, headers={"HX-Redirect": f"/console/notices/{row.id}"})


@router.get("/{broadcast_id}", response_class=HTMLResponse)
def outage(request: Request, broadcast_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """One outage notice and the state of every delivery (per customer and channel)."""
    _need(ctx, "tickets:read")
    row = broadcasts.get_broadcast(db, broadcast_id, ctx.principal)
    found = broadcasts.broadcast_deliveries(db, row)
    states: dict[str, int] = {}
    for d in found:
        states[d.state] = states.get(d.state, 0) + 1
    brand = get_brand(db, row.brand_id, ctx.principal)
    return render(
        request,
        ctx,
        "notices/outage.html",
        row=row,
        brand=brand,
        deliveries=found,
        states=states,
        zone=ZoneInfo(brand.timezone or "Asia/Taipei"),
    )
