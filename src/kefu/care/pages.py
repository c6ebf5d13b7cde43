"""Console page: the care queue (主動關懷) with reach-out, dismiss and convert forms per opportunity (HTMX)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.brands.service import visible_brands
from kefu.care import service
from kefu.care.commands import ConvertToCase, DismissOpportunity, ReachOut, build
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, NotFound, ProblemError
from kefu.tickets.listing import LocalTime, brand_zones
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text, translator
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/care")
STATUSES = ("open", "reached_out", "converted", "dismissed")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _suggest(row: service.Row, fallback: str) -> str:
    """The suggested message in the customer's language (the agent edits it before sending)."""
    locale = row.locale if row.locale in ("zh-TW", "zh-CN", "en") else fallback
    return str(translator(locale)["care_suggest_" + str(row.opp.reason)])


def _extra(ctx: PageContext, rows: list[service.Row]) -> dict[str, Any]:
    return {
        "suggest": {r.opp.id: _suggest(r, ctx.locale) for r in rows},
        "can_write": ctx.principal.can("conversations:write"),
        "can_convert": ctx.principal.can("tickets:write"),
    }


@router.get("", response_class=HTMLResponse)
def care_queue(request: Request, ctx: Ctx, db: DB, status: str = "open") -> HTMLResponse:
    """Open opportunities (or decided ones), newest first, and the last 30 days' outcomes per brand."""
    _need(ctx, "conversations:read")
    status = status if status in (*STATUSES, "all") else "open"
    rows = service.queue(db, ctx.principal, status=None if status == "all" else status)
    zones = brand_zones(db, ctx.principal.brand_ids)
    figures = []
    if ctx.principal.can("reports:read"):
        end = utcnow()
        figures = [
            (b.name, service.stats(db, b.id, ctx.principal, start=end - timedelta(days=30), end=end))
            for b in visible_brands(db, ctx.principal)[:10]  # the figures of a few brands; the API has them all
        ]
    return render(
        request,
        ctx,
        "care/queue.html",
        rows=rows,
        qstatus=status,
        statuses=STATUSES,
        figures=figures,
        local=LocalTime(zones),
        **_extra(ctx, rows),
    )


@router.post("/{opportunity_id}/{action}", response_class=HTMLResponse)
def act(request: Request, opportunity_id: int, action: str, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Reach out, dismiss or convert; returns the updated row (with the reason when it was refused)."""
    _need(ctx, "tickets:write" if action == "convert" else "conversations:write")
    opp = service.get_opportunity(db, opportunity_id, ctx.principal)
    error, status = "", 200
    try:
        if action == "reach-out":
            service.reach_out(db, opp, ctx.principal, build(ReachOut, {"body": str(form.get("body") or "")[:4000]}))
        elif action == "dismiss":
            note = str(form.get("reason") or "").strip()[:500]
            if not note:
                error, status = ctx.t["care_need_reason"], 422
            else:
                service.dismiss(db, opp, ctx.principal, build(DismissOpportunity, {"reason": note}))
        elif action == "convert":
            subject = str(form.get("subject") or "")[:500]
            service.convert(db, opp, ctx.principal, build(ConvertToCase, {"subject": subject}))
        else:
            raise NotFound.said("err_care_unknown_action")
    except ProblemError as exc:
        if exc.status == 404:
            raise
        error, status = error_text(ctx, exc), exc.status
    rows = service.queue(db, ctx.principal, status=None, opportunity_id=opp.id, limit=1)
    zones = brand_zones(db, {opp.brand_id})
    return render(
        request,
        ctx,
        "care/_row.html",
        status=status,
        row=rows[0],
        error=error,
        error_action=action if error else "",
        local=LocalTime(zones),
        **_extra(ctx, rows),
    )
