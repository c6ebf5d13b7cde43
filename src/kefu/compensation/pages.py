"""Console page for team leads: review the compensation ledger, approve, grant or reject entries, with totals.

Decisions post with HTMX and get the ledger section back (totals follow every decision); a refused decision (a
rejection without a reason, an entry already decided) shows inline above the list.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.compensation import service
from kefu.core.errors import Conflict, Forbidden, ProblemError
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/compensations")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _status(value: object) -> str | None:
    text = str(value or "")
    return text if text in service.STATUSES else None


def _section(
    ctx: PageContext, db: DB, status: str | None, cursor: str | None = None, **extra: object
) -> dict[str, Any]:
    rows, nxt = service.list_page(db, ctx.principal, status=status, limit=50, cursor=cursor)
    return dict(
        rows=rows,
        next_cursor=nxt,
        current=status or "",
        statuses=service.STATUSES,
        totals=service.totals(db, ctx.principal),
        names=service.customer_names(db, [r.customer_id for r in rows]),
        notes={r.id: service.note_text(r, ctx.locale) for r in rows},
        can_manage=ctx.principal.can("teams:manage"),
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def ledger(request: Request, ctx: Ctx, db: DB, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    """The ledger, newest first, filtered by status, with totals per status."""
    _need(ctx, "customers:read")
    return render(request, ctx, "compensation/ledger.html", **_section(ctx, db, _status(status), cursor))


@router.post("/outages/{broadcast_id}", response_class=HTMLResponse)
def propose_for_outage(request: Request, broadcast_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """From an outage notice's page: propose compensation for each affected customer (blank: the notice's window)."""
    _need(ctx, "teams:manage")
    text = str(form.get("outage_minutes") or "").strip()
    error, made = "", None
    try:
        minutes = int(text) if text else None
        made = len(service.propose_for_outage(db, broadcast_id, ctx.principal, minutes))
    except ValueError:
        error = ctx.t["cmp_bad_minutes"]
    except ProblemError as exc:
        if exc.status == 404:
            raise
        error = error_text(ctx, exc)
    row = service.outage_notice(db, broadcast_id, ctx.principal)
    return render(
        request, ctx, "compensation/_outage_form.html", status=422 if error else 200, row=row, error=error, made=made
    )


@router.post("/{compensation_id}/{action}", response_class=HTMLResponse)
def decide(request: Request, compensation_id: int, action: str, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Approve, grant or reject one entry (a rejection needs the reason)."""
    _need(ctx, "teams:manage")
    error = ""
    note = str(form.get("note") or "")[:500]
    try:
        if action == "reject" and not note.strip():
            error = ctx.t["cmp_need_reason"]  # said in the page's language, before asking the service
        else:
            service.decide(db, compensation_id, action, ctx.principal, note)
    except Conflict:
        error = ctx.t["cmp_already_decided"]
    except ProblemError as exc:
        error = error_text(ctx, exc)
    data = _section(ctx, db, _status(form.get("view_status")), error=error, error_id=compensation_id if error else 0)
    return render(request, ctx, "compensation/_ledger.html", status=422 if error else 200, **data)
