"""Console: the security ladder card of a case (record steps, request a freeze) and the on-time page per step."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from kefu.account_security import service
from kefu.account_security.commands import RecordStep, RequestFreeze, SaveFreezeHook, build
from kefu.account_security.models import STEPS
from kefu.auth.deps import DB
from kefu.brands.service import visible_brands
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, ProblemError
from kefu.tickets.models import Ticket
from kefu.tickets.service import get_ticket
from kefu.web.errors import form_error
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _card(request: Request, ctx: PageContext, db: DB, ticket: Ticket, notice: str = "") -> HTMLResponse:
    incident = service.is_incident(ticket)
    return render(
        request,
        ctx,
        "casework/_security_ladder.html",
        ticket=ticket,
        incident=incident,
        ladder=service.ladder(db, ticket) if incident else [],
        freezes=service.freeze_requests(db, ticket) if incident else [],
        has_hook=incident and service.has_active_hook(db, ticket.brand_id),
        now=utcnow(),
        notice=notice,
    )


@router.get("/tickets/{ticket_id}/security-steps", response_class=HTMLResponse)
def ladder_card(request: Request, ticket_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """The ladder card of the case page (empty for cases that are not security incidents)."""
    _need(ctx, "tickets:read")
    return _card(request, ctx, db, get_ticket(db, ticket_id, ctx.principal))


@router.post("/tickets/{ticket_id}/security-steps", response_model=None)
def record_step(request: Request, ticket_id: int, ctx: Ctx, db: DB, form: PostedForm) -> Response:
    """Record one step from the card's buttons; answers the updated card."""
    _need(ctx, "tickets:write")
    ticket = get_ticket(db, ticket_id, ctx.principal)
    try:
        step = str(form.get("step", ""))
        cmd = build(RecordStep, {"step": step if step in STEPS else "", "note": str(form.get("note", ""))[:4000]})
        service.record_step(db, ticket, ctx.principal, cmd)
    except ProblemError as exc:
        return form_error(request, exc.status, error_text(request, exc), exc)
    return _card(request, ctx, db, ticket, notice=ctx.t["sl_saved"])


@router.post("/tickets/{ticket_id}/security-freeze", response_model=None)
def request_freeze(request: Request, ticket_id: int, ctx: Ctx, db: DB, form: PostedForm) -> Response:
    """Ask the brand's system for the freeze (its webhook); answers the updated card."""
    _need(ctx, "tickets:write")
    ticket = get_ticket(db, ticket_id, ctx.principal)
    try:
        cmd = build(RequestFreeze, {"note": str(form.get("note", ""))[:4000]})
        service.request_freeze(db, ticket, ctx.principal, cmd)
    except ProblemError as exc:
        return form_error(request, exc.status, error_text(request, exc), exc)
    return _card(request, ctx, db, ticket, notice=ctx.t["sl_freeze_sent"])


@router.get("/security-incidents", response_class=HTMLResponse)
def punctuality_page(request: Request, ctx: Ctx, db: DB, days: int = 30, saved: bool = False) -> HTMLResponse:
    """On-time rate per step of the ladder per brand (cases opened in the last `days` days); the freeze webhooks."""
    _need(ctx, "reports:read")
    days = min(max(days, 1), 366)
    manage = ctx.principal.can("brands:manage")
    reports = []
    for brand in visible_brands(db, ctx.principal):
        today = utcnow().astimezone(ZoneInfo(brand.timezone or "Asia/Taipei")).date()  # the brand's own calendar day
        start = today - timedelta(days=days - 1)
        report = service.punctuality(db, brand.id, ctx.principal, start=start, end=today)
        hook = service.get_hook(db, brand.id, ctx.principal) if manage else None
        reports.append((brand, report, hook))
    return render(
        request,
        ctx,
        "casework/security_incidents.html",
        reports=reports,
        days=days,
        steps=STEPS,
        manage=manage,
        saved=saved,
    )


@router.post("/security-incidents/{brand_id}/webhook", response_model=None)
def save_hook(request: Request, brand_id: int, ctx: Ctx, db: DB, form: PostedForm) -> Response:
    """Set the brand's freeze webhook (URL, HMAC secret, on/off) from the page's form."""
    _need(ctx, "brands:manage")
    data = {
        "url": str(form.get("url", "")).strip(),
        "secret": str(form.get("secret", "")),
        "is_active": form.get("is_active") == "on",
    }
    try:
        service.save_hook(db, brand_id, ctx.principal, build(SaveFreezeHook, data))
    except ProblemError as exc:
        return form_error(request, exc.status, error_text(request, exc), exc)
    return Response(status_code=204, headers={"HX-Redirect": "/console/security-incidents?saved=true"})


@router.post("/security-incidents/{brand_id}/webhook/delete", response_model=None)
def delete_hook(brand_id: int, ctx: Ctx, db: DB) -> Response:
    """Remove the brand's freeze webhook."""
    _need(ctx, "brands:manage")
    service.delete_hook(db, brand_id, ctx.principal)
    return Response(status_code=204, headers={"HX-Redirect": "/console/security-incidents?saved=true"})
