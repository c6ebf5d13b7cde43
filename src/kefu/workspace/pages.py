"""Console workspace pages: global search, customers (profile, notes, merge), operator screens (complaint and
regulator deadlines, security incidents, data-subject requests) and the delivery retry action.

Pages only call services; brand scoping and masking happen there and in the templates' PiiView.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from kefu.auth import service as auth_service
from kefu.auth.deps import DB
from kefu.brands import service as brands
from kefu.channels import outbox
from kefu.complaints import service as complaints
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, ProblemError
from kefu.core.l10n import wall_time
from kefu.customers import service as customers
from kefu.privacy import requests as dsr
from kefu.security import incidents
from kefu.tickets import listing
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router
from kefu.workspace import search as global_search

router = Router(include_in_schema=False, prefix="/console")
ON_TIME_WINDOW = timedelta(days=90)


def _need(ctx: PageContext, *perms: str) -> None:
    for perm in perms:
        if not ctx.principal.can(perm):
            raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _local(db: DB, brand_ids: set[int]) -> listing.LocalTime:
    return listing.LocalTime(listing.brand_zones(db, brand_ids))


# ---------------------------------------------------------------- search


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    ctx: Ctx,
    db: DB,
    q: Annotated[str, Query(max_length=global_search.MAX_QUERY)] = "",
    brand_id: int | None = None,
) -> HTMLResponse:
    """Tickets, conversations and customers matching a number, words, or a customer's full name/phone/email."""
    if brand_id is not None:
        brands.get_brand(db, brand_id, ctx.principal)  # 404 outside the caller's brands
    results = global_search.search(db, ctx.principal, q, brand_id=brand_id)
    brand_ids = {t.brand_id for t in results.tickets} | {c.brand_id for c in results.conversations}
    return render(
        request,
        ctx,
        "desk/search.html",
        q=results.q,
        results=results,
        brand_id=brand_id,
        brand_list=brands.visible_brands(db, ctx.principal),
        local=_local(db, brand_ids | {c.brand_id for c in results.customers}),
    )


# ---------------------------------------------------------------- customers


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request,
    ctx: Ctx,
    db: DB,
    q: Annotated[str, Query(max_length=200)] = "",
    vip: bool = False,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Customers of the caller's brands, newest first; search by full name/phone/email (fragments need pii:reveal)."""
    _need(ctx, "customers:read")
    rows, next_cursor = customers.list_customers(
        db,
        ctx.principal,
        brand_id=None,
        q=q.strip() or None,
        tier=None,
        vip=True if vip else None,
        organization_id=None,
        include_merged=False,
        limit=50,
        cursor=cursor,
    )
    brands = customers.listed_brands(db, rows)  # tier names and currencies from one select
    return render(
        request,
        ctx,
        "desk/customers.html",
        rows=rows,
        q=q,
        vip=vip,
        next_cursor=next_cursor,
        local=_local(db, {c.brand_id for c in rows}),
        tiers=customers.tier_names(rows, brands, ctx.locale),
        currencies={bid: b.currency for bid, b in brands.items()},
    )


def _profile_page(
    request: Request, ctx: PageContext, db: DB, customer_id: int, status: int = 200, **extra: Any
) -> HTMLResponse:
    prof = customers.profile(db, customer_id, ctx.principal, ctx.locale)
    data: dict[str, Any] = {
        "preview": None,
        "merge_error": None,
        "merge_value": "",
        "note_error": None,
        "merged": False,
        **extra,
    }
    return render(
        request,
        ctx,
        "desk/customer.html",
        status=status,
        p=prof,
        agents=auth_service.agent_names(db, ctx.principal),
        local=_local(db, {prof.customer.brand_id}),
        zone=listing.brand_zones(db, {prof.customer.brand_id}).get(prof.customer.brand_id),
        **data,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: int, ctx: Ctx, db: DB, merged: bool = False) -> HTMLResponse:
    """A customer's profile: identities per channel, tier, organisation, tickets, conversations, notes."""
    _need(ctx, "customers:read")
    return _profile_page(request, ctx, db, customer_id, merged=merged)


@router.post("/customers/{customer_id}/notes", response_model=None)
def add_note(
    request: Request, customer_id: int, ctx: Ctx, db: DB, body: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    """Add a note to the customer (audited); back to the profile."""
    _need(ctx, "customers:write")
    customer = customers.get_customer(db, customer_id, ctx.principal)
    if not body.strip():
        return _profile_page(request, ctx, db, customer_id, note_error=ctx.t["cu_note_empty"])
    customers.add_note(db, customer, ctx.principal, body)
    return _profile_page(request, ctx, db, customer_id)


@router.get("/customers/{customer_id}/merge", response_class=HTMLResponse)
def merge_preview(
    request: Request, customer_id: int, ctx: Ctx, db: DB, source_id: Annotated[str, Query(max_length=18)] = ""
) -> HTMLResponse:
    """Preview folding a duplicate into this customer: what moves and which fields get filled."""
    _need(ctx, "customers:write")
    target = customers.get_customer(db, customer_id, ctx.principal)
    typed = source_id.strip().lstrip("#")
    # A wrong number is the agent's typo: said beside the field on the profile, not as an error page instead of it.
    if not typed.isdigit():
        bad = ctx.t["cu_merge_source_bad"]
        return _profile_page(request, ctx, db, customer_id, 422, merge_error=bad, merge_value=source_id)
    try:
        preview = customers.merge_preview(db, target, customers.get_customer(db, int(typed), ctx.principal))
    except ProblemError as exc:
        why = error_text(ctx, exc)
        return _profile_page(request, ctx, db, customer_id, exc.status, merge_error=why, merge_value=source_id)
    return _profile_page(request, ctx, db, customer_id, preview=preview)


@router.post("/customers/{customer_id}/merge", response_model=None)
def merge(customer_id: int, ctx: Ctx, db: DB, source_id: Annotated[int, Form()]) -> Response:
    """Merge the duplicate into this customer (audited, announced) and show the merged profile."""
    _need(ctx, "customers:write")
    target = customers.get_customer(db, customer_id, ctx.principal)
    source = customers.get_customer(db, source_id, ctx.principal)
    customers.merge_customers(db, target, source, ctx.principal)
    return Response(status_code=204, headers={"HX-Redirect": f"/console/customers/{customer_id}?merged=1"})


# ---------------------------------------------------------------- operator screens


@router.get("/complaints", response_class=HTMLResponse)
def complaint_board(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Every open complaint and regulator-letter deadline, overdue first, with on-time figures."""
    _need(ctx, "tickets:read")
    return _complaint_board(request, ctx, db)


@router.post("/complaints/regulator", response_class=HTMLResponse, response_model=None)
def register_regulator_letter(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    agency: Annotated[str, Form(max_length=200)] = "",
    reference_no: Annotated[str, Form(max_length=100)] = "",
    subject: Annotated[str, Form(max_length=500)] = "",
    summary: Annotated[str, Form(max_length=50_000)] = "",
    received_at: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse | Response:
    """Register an agency's letter (#17): its case opens with the brand's deadline (15 calendar days by default)."""
    _need(ctx, "tickets:write")
    t = ctx.t
    values = {"brand_id": str(brand_id), "agency": agency, "reference_no": reference_no, "subject": subject}
    values |= {"summary": summary, "received_at": received_at}
    errors: dict[str, str] = {}
    if not agency.strip():
        errors["agency"] = t["ae_required"]
    if not subject.strip():
        errors["subject"] = t["ae_required"]
    brand = brands.get_brand(db, brand_id, ctx.principal)  # 404 outside the caller's brands
    received = utcnow()
    if received_at:
        # The letter's date as the agent reads it on the envelope: a wall time in the brand's timezone.
        try:
            local = wall_time(received_at, brand.timezone)
        except ValueError:
            errors["received_at"] = t["ae_choice"]
        else:
            received = local.astimezone(UTC)
            if received > utcnow():
                errors["received_at"] = t["ae_reg_future"]
    if not errors:
        try:
            case = complaints.create_regulator_case(
                db,
                brand_id=brand.id,
                actor=ctx.principal,
                agency=agency.strip(),
                subject=subject.strip(),
                received_at=received,
                reference_no=reference_no.strip(),
                summary=summary.strip(),
            )
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = error_text(ctx, exc)
        else:
            return Response(status_code=204, headers={"HX-Redirect": f"/console/tickets/{case.ticket_id}"})
    return _complaint_board(request, ctx, db, values=values, errors=errors)


def _complaint_board(
    request: Request,
    ctx: PageContext,
    db: DB,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    now = utcnow()
    items = complaints.deadline_board(db, ctx.principal, now=now)
    figures = complaints.on_time_figures(db, ctx.principal, since=now - ON_TIME_WINDOW)
    groups = {s: [i for i in items if i.state == s] for s in ("overdue", "soon", "ok")}
    return render(
        request,
        ctx,
        "desk/complaints.html",
        groups=groups,
        figures=figures,
        brand_list=brands.visible_brands(db, ctx.principal),
        can_write=ctx.principal.can("tickets:write"),
        values=values or {},
        errors=errors or {},
        rate=complaints.OnTime.rate,
        now=now,
        humanize=listing.humanize,
        local=_local(db, {i.brand_id for i in items}),
    )


@router.get("/incidents", response_class=HTMLResponse)
def incident_board(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Security incidents with their 1-hour report and 48-hour form deadlines and on-time rates."""
    _need(ctx, "audit:read")
    rows = incidents.list_incidents(db, ctx.principal)
    stats = incidents.statistics(db, ctx.principal, since=utcnow() - ON_TIME_WINDOW)
    return render(
        request,
        ctx,
        "desk/incidents.html",
        rows=rows,
        stats=stats,
        now=utcnow(),
        local=_local(db, {i.brand_id for i in rows if i.brand_id is not None}),
    )


@router.get("/privacy-requests", response_class=HTMLResponse)
def privacy_requests(
    request: Request,
    ctx: Ctx,
    db: DB,
    kind: Annotated[str, Query(pattern="^(|export|erase|correction)$")] = "",
    state: Annotated[str, Query(pattern="^(|pending|overdue|done)$")] = "",
) -> HTMLResponse:
    """The data-subject request queue: pending (identity check, execution), overdue, done; due dates per request."""
    _need(ctx, "audit:read")
    return _dsr_page(request, ctx, db, kind=kind, state=state)


def _dsr_page(
    request: Request,
    ctx: PageContext,
    db: DB,
    *,
    kind: str = "",
    state: str = "",
    error: str | None = None,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    now = utcnow()
    rows = dsr.queue(db, ctx.principal, kind=kind or None, state=state or None, now=now)
    return render(
        request,
        ctx,
        "desk/privacy_requests.html",
        status=422 if error else 200,
        typed=typed or {},
        rows=rows,
        kind=kind,
        state=state,
        counts=dsr.counts(db, ctx.principal, now=now),
        overdue=lambda r: dsr.is_overdue(r, now),
        error=error,
        agents=auth_service.agent_names(db, ctx.principal),
        local=_local(db, {r.brand_id for r in rows}),
    )


def _dsr_done(state: str = "") -> Response:
    return Response(
        status_code=204, headers={"HX-Redirect": "/console/privacy-requests" + (f"?state={state}" if state else "")}
    )


@router.post("/privacy-requests", response_model=None)
def dsr_open(
    request: Request,
    ctx: Ctx,
    db: DB,
    customer_id: Annotated[str, Form(max_length=18)] = "",
    kind: Annotated[str, Form(pattern="^(export|erase|correction)$")] = "export",
    channel: Annotated[str, Form(pattern="^(email|phone|letter|counter|portal|other)$")] = "other",
    reason: Annotated[str, Form(max_length=500)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Record a request received from a customer (pending its identity check)."""
    _need(ctx, "audit:read", "customers:write")
    cid = customer_id.strip().lstrip("#")
    if not cid.isdigit() or len(reason.strip()) < 3:
        # The form comes back open with everything typed in it (it collapsed, emptied, under the error).
        typed = {"customer_id": customer_id, "kind": kind, "channel": channel, "reason": reason}
        typed |= {"name": name, "email": email, "phone": phone}
        return _dsr_page(request, ctx, db, error=ctx.t["dsr_err_open"], typed=typed)
    changes = {k: v for k, v in (("name", name), ("email", email), ("phone", phone)) if v.strip()}
    dsr.open_request(
        db, ctx.principal, int(cid), kind=kind, reason=reason.strip(), channel=channel, changes=changes or None
    )
    return _dsr_done("pending")


@router.post("/privacy-requests/{request_id}/verify", response_model=None)
def dsr_verify(
    request: Request, request_id: int, ctx: Ctx, db: DB, note: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    """Record the identity check (how it was done, in the note)."""
    _need(ctx, "audit:read", "customers:write", "pii:reveal")
    if len(note.strip()) < 3:
        return _dsr_page(request, ctx, db, error=ctx.t["dsr_err_note"])
    dsr.verify_request(db, ctx.principal, request_id, note=note)
    return _dsr_done()


@router.post("/privacy-requests/{request_id}/reject", response_model=None)
def dsr_reject(
    request: Request, request_id: int, ctx: Ctx, db: DB, note: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    """Close a request without carrying it out (the note says why)."""
    _need(ctx, "audit:read", "customers:write", "pii:reveal")
    if len(note.strip()) < 3:
        return _dsr_page(request, ctx, db, error=ctx.t["dsr_err_note"])
    dsr.reject_request(db, ctx.principal, request_id, note=note)
    return _dsr_done("done")


@router.post("/privacy-requests/{request_id}/execute", response_model=None)
def dsr_execute(
    request_id: int, ctx: Ctx, db: DB, fmt: Annotated[str, Form(pattern="^(json|pdf)$")] = "pdf"
) -> Response:
    """Carry out a verified request; an export comes back as the file to send to the customer."""
    _need(ctx, "audit:read", "customers:write", "pii:reveal")
    done = dsr.execute_request(db, ctx.principal, request_id, fmt=fmt)
    if done.content is not None:
        return Response(
            done.content,
            media_type=done.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{done.filename}"',
                "Cache-Control": "no-store",
            },
        )
    return _dsr_done("done")


# ---------------------------------------------------------------- delivery


@router.post("/messages/{message_id}/retry", response_model=None)
def retry(message_id: int, ctx: Ctx, db: DB) -> Response:
    """Send a failed (or unknown) outbound message again through the outbox; the timeline refreshes."""
    _need(ctx, "conversations:write")
    outbox.retry_message(db, message_id, ctx.principal)
    return Response(status_code=204, headers={"HX-Trigger": "kefu:refresh"})
