"""Console pages for multi-action macros: manage them (forms) and apply them to a case, a conversation or many cases.

Pages only call services (kefu.macros.actions, tickets.service); every change is audited there.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from kefu.auth.deps import DB
from kefu.conversations import service as conv_service
from kefu.core.errors import Forbidden, InvalidInput, ProblemError
from kefu.customers import service as customer_service
from kefu.macros import actions
from kefu.macros import service as canned
from kefu.macros.models import TicketMacro
from kefu.privacy.masking import can_reveal
from kefu.tickets import service as ticket_service
from kefu.tickets.models import PRIORITIES, TICKET_STATUSES
from kefu.web.forms import optional_int
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console")


def redirect(request: Request, url: str) -> Response:
    """After a console form: htmx follows HX-Redirect (forms post through htmx, which adds the CSRF header)."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def error_status(request: Request) -> int:
    """A form shown again with its error: htmx swaps only 2xx answers, plain clients get a 422."""
    return 200 if request.headers.get("HX-Request") else 422


def _need(ctx: PageContext, perm: str) -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def describe(macro: TicketMacro, t: dict[str, str], names: dict[str, dict[int, str]]) -> list[str]:
    """A macro's actions in the reader's language (for lists and pickers)."""
    out = []
    if macro.status:
        out.append(t["m3_act_status"].format(v=t.get("t_" + macro.status, macro.status)))
    if macro.priority:
        out.append(t["m3_act_priority"].format(v=t.get("p_" + macro.priority, macro.priority)))
    if macro.add_tags:
        out.append(t["m3_act_tags"].format(v="、".join(macro.add_tags)))
    if macro.team_id:
        out.append(t["m3_act_team"].format(v=names["teams"].get(macro.team_id, f"#{macro.team_id}")))
    if macro.assignee_id:
        out.append(t["m3_act_assignee"].format(v=names["agents"].get(macro.assignee_id, f"#{macro.assignee_id}")))
    if macro.reply:
        out.append(t["m3_act_reply"])
    return out


def _fields(
    brand_id: str, name: str, status: str, priority: str, tags: str, team_id: str, assignee_id: str, reply: str
) -> actions.MacroFields:
    brand = optional_int(brand_id, "brand_id")
    if brand is None:
        raise InvalidInput.said("err_macros_choose_brand")
    return actions.MacroFields(
        brand_id=brand,
        name=name,
        status=status or None,
        priority=priority or None,
        add_tags=actions.parse_tags(tags),
        team_id=optional_int(team_id, "team_id"),
        assignee_id=optional_int(assignee_id, "assignee_id"),
        reply=reply,
    )


def _page(
    request: Request,
    ctx: PageContext,
    db: DB,
    *,
    editing: TicketMacro | None = None,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    options = actions.form_options(db, ctx.principal)
    macros = actions.list_macros(db, ctx.principal)
    names = {"teams": {i: n for i, _, n in options.teams}, "agents": {i: n for i, _, n in options.agents}}
    brand_names = dict(options.brands)
    if form is None and editing is not None:
        form = {
            "brand_id": str(editing.brand_id),
            "name": editing.name,
            "status": editing.status or "",
            "priority": editing.priority or "",
            "tags": ", ".join(editing.add_tags),
            "team_id": str(editing.team_id or ""),
            "assignee_id": str(editing.assignee_id or ""),
            "reply": editing.reply,
        }
    return render(
        request,
        ctx,
        "macros/macros.html",
        status=status,
        macros=[(m, describe(m, ctx.t, names), brand_names.get(m.brand_id, "")) for m in macros],
        options=options,
        statuses=TICKET_STATUSES,
        priorities=PRIORITIES,
        editing=editing,
        form=form or {},
        error=error,
        notice=notice,
        multi_brand=len(options.brands) > 1,
    )


@router.get("/macros", response_class=HTMLResponse)
def macro_list(request: Request, ctx: Ctx, db: DB, edit: int | None = None, done: str = "") -> HTMLResponse:
    """The brand's macros, with the form to add one (or edit one with ?edit=id)."""
    _need(ctx, "tickets:read")
    editing = actions.get(db, edit, ctx.principal) if edit else None
    notice = {"saved": ctx.t["m3_saved"], "deleted": ctx.t["m3_deleted"]}.get(done)
    return _page(request, ctx, db, editing=editing, notice=notice)


def _save(
    request: Request,
    ctx: PageContext,
    db: DB,
    macro_id: int | None,
    form: dict[str, str],
) -> Response:
    editing = actions.get(db, macro_id, ctx.principal) if macro_id else None
    try:
        with db.begin_nested():
            fields = _fields(**form)
            if editing is None:
                actions.create(db, ctx.principal, fields)
            else:
                actions.update(db, editing, ctx.principal, fields)
    except ProblemError as exc:
        return _page(
            request, ctx, db, editing=editing, error=error_text(ctx, exc), form=form, status=error_status(request)
        )
    return redirect(request, "/console/macros?done=saved")


class MacroForm(BaseModel):
    """The macro editor's fields, as posted (the service validates what they mean)."""

    name: str = Field(max_length=100)
    brand_id: str = Field("", max_length=18)
    status: str = Field("", max_length=16)
    priority: str = Field("", max_length=16)
    tags: str = Field("", max_length=1000)
    team_id: str = Field("", max_length=18)
    assignee_id: str = Field("", max_length=18)
    reply: str = Field("", max_length=20_000)


MacroFields = Annotated[MacroForm, Form()]


@router.post("/macros", response_model=None)
def macro_create(request: Request, ctx: Ctx, db: DB, form: MacroFields) -> Response:
    """Add a macro."""
    return _save(request, ctx, db, None, form.model_dump())


@router.post("/macros/{macro_id}", response_model=None)
def macro_update(request: Request, macro_id: int, ctx: Ctx, db: DB, form: MacroFields) -> Response:
    """Change a macro's actions."""
    return _save(request, ctx, db, macro_id, form.model_dump())


@router.post("/macros/{macro_id}/delete", response_model=None)
def macro_delete(request: Request, macro_id: int, ctx: Ctx, db: DB) -> Response:
    """Remove a macro."""
    actions.delete(db, actions.get(db, macro_id, ctx.principal), ctx.principal)
    return redirect(request, "/console/macros?done=deleted")


def reply_text(db: DB, ctx: PageContext, macro: TicketMacro, customer_id: int, ticket_number: str) -> str:
    """The macro's reply with placeholders filled (the customer's name stays a placeholder when masked)."""
    if not macro.reply:
        return ""
    customer = customer_service.get_customer(db, customer_id, ctx.principal) if customer_id else None
    name = (customer.name or "") if customer is not None and can_reveal(ctx.principal) else "{customer_name}"
    values = {"customer_name": name, "agent_name": ctx.agent.name, "ticket_number": ticket_number}
    return canned.render(macro.reply, values)


def _card(
    request: Request,
    ctx: PageContext,
    db: DB,
    *,
    brand_id: int,
    action: str,
    notice: str | None = None,
    draft: str = "",
) -> HTMLResponse:
    options = actions.form_options(db, ctx.principal)
    names = {"teams": {i: n for i, _, n in options.teams}, "agents": {i: n for i, _, n in options.agents}}
    macros = [(m, describe(m, ctx.t, names)) for m in actions.list_macros(db, ctx.principal, {brand_id})]
    return render(request, ctx, "macros/_apply.html", macros=macros, action=action, macro_notice=notice, draft=draft)


@router.get("/tickets/{ticket_id}/macros", response_class=HTMLResponse)
def case_card(request: Request, ticket_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """The macro picker of the case page."""
    _need(ctx, "tickets:read")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    return _card(request, ctx, db, brand_id=ticket.brand_id, action=f"/console/tickets/{ticket.id}/macro")


@router.post("/tickets/{ticket_id}/macro", response_model=None)
def apply_to_case(ticket_id: int, ctx: Ctx, db: DB, macro_id: Annotated[int, Form()]) -> Response:
    """Apply a macro on the case page; with a reply text and a conversation, continue there with the draft."""
    _need(ctx, "tickets:write")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    macro = actions.get(db, macro_id, ctx.principal)
    actions.apply(db, macro, ticket, ctx.principal)
    conv_id = actions.conversation_of(db, ticket) if macro.reply else None
    target = (
        f"/console/conversations/{conv_id}?macro={macro.id}&back=/console/tickets/{ticket.id}"
        if conv_id
        else f"/console/tickets/{ticket.id}?saved=true"
    )
    return Response(status_code=204, headers={"HX-Redirect": target})


@router.get("/conversations/{conversation_id}/macros", response_class=HTMLResponse)
def conversation_card(
    request: Request, conversation_id: int, ctx: Ctx, db: DB, draft: int | None = None
) -> HTMLResponse:
    """The macro picker of the conversation page (?draft=id also hands that macro's reply text to the composer)."""
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    text = ""
    if draft:
        macro = actions.get(db, draft, ctx.principal)
        if macro.brand_id == conv.brand_id:
            text = reply_text(db, ctx, macro, conv.customer_id, actions.ticket_number(db, conv.ticket_id))
    return _card(
        request,
        ctx,
        db,
        brand_id=conv.brand_id,
        action=f"/console/conversations/{conv.id}/macro",
        draft=text,
    )


@router.post("/conversations/{conversation_id}/macro", response_class=HTMLResponse)
def apply_to_conversation(
    request: Request, conversation_id: int, ctx: Ctx, db: DB, macro_id: Annotated[int, Form()]
) -> HTMLResponse:
    """Apply a macro from the conversation: the case's fields change and the reply text goes into the composer."""
    from kefu.web.pages import _conversation_data

    _need(ctx, "conversations:write")
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    macro = actions.get(db, macro_id, ctx.principal)
    if macro.brand_id != conv.brand_id:
        raise InvalidInput.said("err_macros_other_brand")
    note = ctx.t["m3_applied"].format(name=macro.name)
    # The conversation follows the case's owner, as with the assignment form.
    owner = {k: v for k, v in (("assignee_id", macro.assignee_id), ("team_id", macro.team_id)) if v}
    if owner:
        conv_service.update_conversation(db, conv, ctx.principal, owner)
    if conv.ticket_id:
        ticket = ticket_service.get_ticket(db, conv.ticket_id, ctx.principal)
        actions.apply(db, macro, ticket, ctx.principal)
    else:
        note += " " + ctx.t["m3_no_ticket"]
    text = reply_text(db, ctx, macro, conv.customer_id, actions.ticket_number(db, conv.ticket_id))
    card = _card(
        request,
        ctx,
        db,
        brand_id=conv.brand_id,
        action=f"/console/conversations/{conv.id}/macro",
        notice=note,
        draft=text,
    )
    data: dict[str, Any] = _conversation_data(db, ctx, conversation_id)
    side = render(request, ctx, "partials/side.html", **data)
    # The side panel (ticket status, assignee) is swapped out of band so it shows the macro's changes at once.
    body = bytes(card.body) + b'<div id="side" hx-swap-oob="true">' + bytes(side.body) + b"</div>"
    return HTMLResponse(body, headers={"HX-Trigger": "kefu:refresh"})
