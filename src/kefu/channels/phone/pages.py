"""Console phone pages: the call-logging screen and the call pop-up card shown when the PBX rings an agent."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from kefu.auth.deps import DB
from kefu.channels.phone import calls
from kefu.core.errors import Forbidden, ProblemError
from kefu.macros import actions as macro_actions
from kefu.macros.pages import error_status, redirect
from kefu.tickets import listing
from kefu.web.forms import optional_int
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console")


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _page(
    request: Request,
    ctx: PageContext,
    db: DB,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    rows = calls.recent_calls(db, ctx.principal)
    options = macro_actions.form_options(db, ctx.principal)
    return render(
        request,
        ctx,
        "phone/calls.html",
        status=status,
        brands=options.brands,
        inboxes=calls.phone_inboxes(db, ctx.principal),
        outcomes=calls.OUTCOMES,
        rows=rows,
        form=form or {},
        error=error,
        local=listing.LocalTime(listing.brand_zones(db, {r.conversation.brand_id for r in rows})),
    )


@router.get("/calls", response_class=HTMLResponse)
def calls_page(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Log an inbound or outbound call; the latest calls below."""
    _need(ctx, "conversations:write")
    return _page(request, ctx, db)


@router.get("/calls/lookup", response_class=HTMLResponse)
def lookup(
    request: Request,
    ctx: Ctx,
    db: DB,
    phone: Annotated[str, Query(max_length=64)] = "",
    brand_id: Annotated[str, Query(max_length=18)] = "",
) -> HTMLResponse:
    """Who has this number (any spelling), shown masked as the agent's permissions require."""
    _need(ctx, "conversations:write")
    brand = optional_int(brand_id, "brand_id")
    found = calls.find_by_phone(db, ctx.principal, brand, phone) if brand is not None and phone.strip() else []
    return render(request, ctx, "phone/_lookup.html", found=found, asked=bool(phone.strip()))


@router.post("/calls", response_model=None)
def log_call(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[str, Form(max_length=18)],
    direction: Annotated[str, Form(max_length=16)],
    outcome: Annotated[str, Form(max_length=32)],
    phone: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    inbox_id: Annotated[str, Form(max_length=18)] = "",
    minutes: Annotated[str, Form(max_length=6)] = "0",
    seconds: Annotated[str, Form(max_length=6)] = "0",
    notes: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Save the call (timeline + case per the inbox policy) and open its conversation."""
    _need(ctx, "conversations:write")
    form = {
        "brand_id": brand_id,
        "direction": direction,
        "outcome": outcome,
        "phone": phone,
        "name": name,
        "inbox_id": inbox_id,
        "minutes": minutes,
        "seconds": seconds,
        "notes": notes,
    }
    try:
        mins = optional_int(minutes, "minutes") or 0
        secs = optional_int(seconds, "seconds") or 0
        body = calls.CallLog(
            brand_id=optional_int(brand_id, "brand_id") or 0,
            phone=phone or None,
            name=name.strip() or None,
            inbox_id=optional_int(inbox_id, "inbox_id"),
            direction=direction,
            outcome=outcome,
            duration_seconds=mins * 60 + secs,
            notes=notes,
        )
        with db.begin_nested():
            logged = calls.log_call(db, ctx.principal, body)
    except ValidationError as exc:
        first = exc.errors()[0]
        error = f"{first['loc'][0]}: {first['msg']}"
        return _page(request, ctx, db, form=form, error=error, status=error_status(request))
    except ProblemError as exc:
        return _page(request, ctx, db, form=form, error=error_text(ctx, exc), status=error_status(request))
    return redirect(request, f"/console/conversations/{logged.conversation.id}?back=/console/calls")


@router.get("/calls/pop", response_class=HTMLResponse)
def pop(
    request: Request,
    ctx: Ctx,
    db: DB,
    customer_id: int,
    conversation_id: int | None = None,
    state: Annotated[str, Query(pattern="^(ringing|answered|logged|missed)$")] = "ringing",
    call_id: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The call pop-up card: who is calling (masked as required), their open cases and the timeline link."""
    _need(ctx, "conversations:read")
    who = calls.caller(db, ctx.principal, customer_id, conversation_id)
    return render(request, ctx, "phone/_pop.html", who=who, state=state, call_id=call_id)
