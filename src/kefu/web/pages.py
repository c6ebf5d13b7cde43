"""Agent console pages (Jinja2 + HTMX): login, inbox views, conversation with cross-channel timeline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kefu.auth import service as auth_service
from kefu.auth.deps import DB, SettingsDep, client_ip, require_csrf, set_session_cookie
from kefu.auth.models import Agent, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.bot import service as bot_service
from kefu.brands.models import Brand, Inbox
from kefu.complaints.models import Complaint, RegulatorCase
from kefu.conversations import service as conv_service
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import Forbidden, NotFound, ProblemError, TooManyRequests, Unauthorized
from kefu.customers.models import Customer, CustomerIdentity, Organization
from kefu.macros import service as macros
from kefu.privacy.masking import PiiView, can_reveal
from kefu.privacy.search import person_filter
from kefu.security import reset as reset_service
from kefu.security.asgi import STRICT_CSP, use_policy
from kefu.sla.models import TicketSla
from kefu.tickets import service as ticket_service
from kefu.tickets.commands import AssignTicket, ChangeTicketStatus, build
from kefu.tickets.models import PRIORITIES, TICKET_STATUSES, Ticket
from kefu.web.forms import optional_int
from kefu.web.i18n import LOCALES, pick_locale, translator

log = logging.getLogger("kefu.web")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
VIEWS = ("mine", "team", "unassigned", "sla", "vip", "complaints", "all", "closed")
LOCALE_COOKIE = "kefu_lang"


class LoginRequired(Exception):
    """Raised by page dependencies when there is no valid session."""


class PageContext:
    """Authenticated page request: principal, agent, CSRF token, translations."""

    def __init__(self, principal: Principal, agent: Agent, csrf: str, locale: str) -> None:
        self.principal = principal
        self.agent = agent
        self.csrf = csrf
        self.locale = locale
        self.t = translator(locale)


def page_context(request: Request, db: DB, settings: SettingsDep) -> PageContext:
    """Session-cookie authentication for pages; unsafe methods need the session's CSRF token."""
    cookie = request.cookies.get(settings.session_cookie)
    resolved = auth_service.resolve_session(db, cookie, client_ip(request)) if cookie else None
    if resolved is None:
        raise LoginRequired
    principal, row = resolved
    require_csrf(request, row)
    agent = auth_service.get_agent(db, principal.agent_id)
    locale = pick_locale(request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE), agent.locale)
    return PageContext(principal, agent, row.csrf_token, locale)


Ctx = Annotated[PageContext, Depends(page_context)]


def render(request: Request, ctx: PageContext | None, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    """Render a template with the common context."""
    locale = ctx.locale if ctx else pick_locale(request.query_params.get("lang"), request.cookies.get(LOCALE_COOKIE))
    data.update(
        request=request,
        ctx=ctx,
        t=translator(locale),
        locale=locale,
        locales=LOCALES,
        pii=PiiView(ctx.principal if ctx else None),
    )
    response = templates.TemplateResponse(request, name, data, status_code=status)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(LOCALE_COOKIE, str(request.query_params["lang"]), samesite="lax", httponly=True)
    return response


# ---------------------------------------------------------------- login


@router.get("/", response_model=None)
def root() -> RedirectResponse:
    """Send people to the console."""
    return RedirectResponse("/console", status_code=303)


@router.get("/demo/shop", response_class=HTMLResponse)
def demo_shop(request: Request, db: DB, settings: SettingsDep, brand: str = "demo") -> HTMLResponse:
    """A sample storefront with the chat widget embedded, as a customer's website would (demo mode only).

    Nothing from the request reaches the page's scripts: the widget always loads from the configured base URL.
    """
    if not settings.demo_mode:
        raise NotFound("Not found.")
    row = db.scalar(select(Brand).where(Brand.slug == brand))
    inbox = None
    if row is not None:
        inbox = db.scalar(
            select(Inbox).where(Inbox.brand_id == row.id, Inbox.kind == "web_chat", Inbox.is_active.is_(True))
        )
    if row is None or inbox is None:
        raise NotFound("No web-chat inbox for that brand.")
    origin = settings.base_url.rstrip("/")
    ws_origin = "ws" + origin[4:] if origin.startswith("http") else origin
    # The shop may be opened on another host name than base_url (a customer's site embeds the widget cross-site).
    use_policy(
        request.scope,
        STRICT_CSP.extend(
            script_src=[origin],
            style_src=[origin],  # the widget brings its own stylesheet (widget.css) from kefu
            connect_src=[origin, ws_origin],
            img_src=[origin],
            media_src=[origin],
        ),
    )
    return render(request, None, "demo_shop.html", brand=row, inbox=inbox, widget_origin=origin)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """Sign-in page."""
    return render(request, None, "login.html", error=None, email="")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    db: DB,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=512)],
) -> Response:
    """Check credentials, set the session cookie, go to the console."""
    if not _same_origin(request):
        raise Forbidden("Cross-site login refused.")
    try:
        result = auth_service.login(
            db,
            settings,
            email=email,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except (Unauthorized, TooManyRequests) as exc:
        db.commit()  # keep the failed attempt for the rate limit
        key = "login_locked" if isinstance(exc, TooManyRequests) else "login_failed"
        return render(request, None, "login.html", status=exc.status, error=key, email=email)
    response = RedirectResponse("/console", status_code=303)
    set_session_cookie(response, settings, result.token)
    return response


def _reset_page(request: Request, status: int = 200, **data: Any) -> HTMLResponse:
    data = {"token": None, "error": None, "done": None, **data}
    response = render(request, None, "reset_password.html", status=status, **data)
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the reset token
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/reset-password", response_class=HTMLResponse)
def reset_password_form(request: Request, token: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    """The page the emailed reset link opens: new password form (or the request form without a token)."""
    return _reset_page(request, token=token)


@router.post("/reset-password/request", response_class=HTMLResponse)
def reset_password_request(
    request: Request, db: DB, settings: SettingsDep, email: Annotated[str, Form(max_length=320)]
) -> HTMLResponse:
    """Ask for a reset link (same answer whether or not the account exists)."""
    if not _same_origin(request):
        raise Forbidden("Cross-site request refused.")
    try:
        reset_service.request_reset(db, settings, email=email, ip=client_ip(request))
    except TooManyRequests:
        return _reset_page(request, status=429, error="error_429")
    return _reset_page(request, status=202, done="reset_sent")


@router.post("/reset-password", response_class=HTMLResponse)
def reset_password_submit(
    request: Request,
    db: DB,
    token: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=512)],
    password2: Annotated[str, Form(max_length=512)],
) -> HTMLResponse:
    """Set the new password; every session and API token of the account is revoked."""
    if not _same_origin(request):
        raise Forbidden("Cross-site request refused.")
    if password != password2:
        return _reset_page(request, status=422, token=token, error="reset_mismatch")
    if len(password) < auth_service.MIN_PASSWORD:
        return _reset_page(request, status=422, token=token, error="reset_weak")
    try:
        reset_service.confirm_reset(db, token=token, password=password, ip=client_ip(request))
    except ProblemError:
        db.rollback()
        return _reset_page(request, status=422, error="reset_invalid")
    return _reset_page(request, done="reset_done")


@router.post("/logout", response_model=None)
def logout(ctx: Ctx, db: DB, settings: SettingsDep) -> RedirectResponse:
    """End the session."""
    auth_service.logout(db, ctx.principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(settings.session_cookie, path="/")
    return response


# ---------------------------------------------------------------- inbox


def _team_ids(db: Session, agent_id: int) -> list[int]:
    return list(db.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent_id)))


def inbox_query(db: Session, ctx: PageContext, view: str, q: str | None) -> list[dict[str, Any]]:
    """Conversations for an inbox view with customer and last-message preview."""
    stmt = select(Conversation, Customer).join(Customer, Customer.id == Conversation.customer_id)
    if ctx.principal.brand_ids is not None:
        stmt = stmt.where(Conversation.brand_id.in_(ctx.principal.brand_ids))
    if view == "closed":
        stmt = stmt.where(Conversation.status == "closed")
    else:
        stmt = stmt.where(Conversation.status != "closed")
    if view == "mine":
        stmt = stmt.where(Conversation.assignee_id == ctx.agent.id)
    elif view == "team":
        stmt = stmt.where(Conversation.team_id.in_(_team_ids(db, ctx.agent.id)))
    elif view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif view == "vip":
        stmt = stmt.where(Customer.vip.is_(True))
    elif view == "sla":
        risky = select(TicketSla.ticket_id).where(TicketSla.status.in_(("warning", "breached")))
        stmt = stmt.where(Conversation.ticket_id.in_(risky))
    elif view == "complaints":
        complaint_tickets = select(Ticket.id).where(
            or_(
                Ticket.category == "complaint",
                Ticket.id.in_(select(Complaint.ticket_id)),
                Ticket.id.in_(select(RegulatorCase.ticket_id)),
            )
        )
        stmt = stmt.where(Conversation.ticket_id.in_(complaint_tickets))
    if q:
        stmt = stmt.where(
            person_filter(
                ctx.principal, q, names=[Customer.name], emails=[Customer.email], texts=[Conversation.subject]
            )
        )
    rows = list(db.execute(stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(100)))
    ids = [c.id for c, _ in rows]
    last: dict[int, Message] = {}
    if ids:
        latest = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(ids), Message.is_note.is_(False))
            .group_by(Message.conversation_id)
        )
        for m in db.scalars(select(Message).where(Message.id.in_(latest))):
            last[m.conversation_id] = m
    return [{"conv": c, "customer": cust, "last": last.get(c.id)} for c, cust in rows]


@router.get("/console", response_class=HTMLResponse)
def inbox(request: Request, ctx: Ctx, db: DB, view: str = "mine", q: str | None = None) -> HTMLResponse:
    """Inbox views: mine, team, unassigned, VIP, all, closed."""
    view = view if view in VIEWS else "mine"
    items = inbox_query(db, ctx, view, q)
    name = "partials/conv_list.html" if request.headers.get("HX-Request") else "inbox.html"
    return render(request, ctx, name, view=view, views=VIEWS, items=items, q=q or "", brand_ids=_brand_ids(db, ctx))


def _brand_ids(db: Session, ctx: PageContext) -> list[int]:
    if ctx.principal.brand_ids is not None:
        return sorted(ctx.principal.brand_ids)
    return list(db.scalars(select(Brand.id).order_by(Brand.id)))


# ---------------------------------------------------------------- conversation


def _conversation_data(db: Session, ctx: PageContext, conversation_id: int) -> dict[str, Any]:
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    customer = db.get(Customer, conv.customer_id)
    assert customer is not None
    brand = db.get(Brand, conv.brand_id)
    assert brand is not None
    rows, _ = conv_service.customer_timeline(db, customer, before_id=None, limit=200, include_notes=True)
    timeline = list(reversed(rows))
    # Names shown in the timeline: agents visible to the caller; the assignee list: who may take this brand's work.
    visible = select(Agent).where(auth_service.agent_visibility(ctx.principal)).order_by(Agent.name)
    agents = {a.id: a for a in db.scalars(visible)}
    assignees = auth_service.assignable_agents(db, conv.brand_id)
    teams = list(db.scalars(select(Team).where(Team.brand_id == conv.brand_id).order_by(Team.name)))
    ticket = db.get(Ticket, conv.ticket_id) if conv.ticket_id else None
    tickets = list(
        db.scalars(select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.id.desc()).limit(20))
    )
    identities = list(db.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)))
    org = db.get(Organization, customer.organization_id) if customer.organization_id else None
    tier_name = next((t["name"] for t in brand.tiers if int(t["level"]) == customer.tier), str(customer.tier))
    values = {
        # Agents without pii:reveal keep the placeholder; it is filled in server-side when the reply is sent.
        "customer_name": (customer.name or "") if can_reveal(ctx.principal) else "{customer_name}",
        "agent_name": ctx.agent.name,
        "ticket_number": ticket.number if ticket else "",
        "brand_name": brand.name,
    }
    canned = [
        (c, macros.render(c.body, values))
        for c in macros.search(db, ctx.principal, brand_id=brand.id, locale=ctx.agent.locale, q=None, limit=100)
    ]
    return {
        "canned": canned,
        "conv": conv,
        "customer": customer,
        "brand": brand,
        "timeline": timeline,
        "agents": agents,
        "assignees": assignees,
        "teams": teams,
        "ticket": ticket,
        "tickets": tickets,
        "identities": identities,
        "org": org,
        "tier_name": tier_name,
        "statuses": TICKET_STATUSES,
        "priorities": PRIORITIES,
    }


@router.get("/console/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation(request: Request, conversation_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Conversation view: timeline, composer, assignment, ticket fields, customer panel."""
    return render(request, ctx, "conversation.html", **_conversation_data(db, ctx, conversation_id))


@router.get("/console/conversations/{conversation_id}/timeline", response_class=HTMLResponse)
def timeline(request: Request, conversation_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Timeline partial (refreshed by realtime events)."""
    return render(request, ctx, "partials/timeline.html", **_conversation_data(db, ctx, conversation_id))


@router.get("/console/conversations/{conversation_id}/assist", response_class=HTMLResponse)
def assist(request: Request, conversation_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Agent-assist panel: handoff summary and suggested KB answers for the latest customer message."""
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    suggestions: list[dict[str, Any]] = []
    try:
        suggestions = bot_service.assist_suggestions(db, conv)
    except Exception:  # the panel is advisory; a KB index problem must not break the conversation page
        log.exception("agent assist failed for conversation %s", conv.id)
    summary = bot_service.summarize(db, conv, ctx.locale)
    return render(request, ctx, "partials/assist.html", summary=summary, suggestions=suggestions)


@router.post("/console/conversations/{conversation_id}/messages", response_class=HTMLResponse)
def post_message(
    request: Request,
    conversation_id: int,
    ctx: Ctx,
    db: DB,
    body: Annotated[str, Form(min_length=1, max_length=100_000)],
    mode: Annotated[str, Form(pattern="^(reply|note)$")] = "reply",
) -> HTMLResponse:
    """Send a reply or add an internal note; returns the refreshed timeline."""
    if not ctx.principal.can("conversations:write"):
        raise Forbidden("Missing permission conversations:write.")
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    customer = db.get(Customer, conv.customer_id)
    text = macros.render(body.strip(), {"customer_name": customer.name if customer else ""})
    conv_service.add_message(db, conv, sender_type="agent", body=text, agent_id=ctx.agent.id, is_note=mode == "note")
    db.flush()
    return render(request, ctx, "partials/timeline.html", **_conversation_data(db, ctx, conversation_id))


@router.post("/console/conversations/{conversation_id}/assign", response_class=HTMLResponse)
def assign(
    request: Request,
    conversation_id: int,
    ctx: Ctx,
    db: DB,
    assignee_id: Annotated[str, Form()] = "",
    team_id: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Assign/transfer the conversation (and its ticket) or change its status."""
    if not ctx.principal.can("conversations:write"):
        raise Forbidden("Missing permission conversations:write.")
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    changes: dict[str, Any] = {
        "assignee_id": optional_int(assignee_id, "assignee_id"),
        "team_id": optional_int(team_id, "team_id"),
    }
    if status in ("open", "pending", "closed", "bot"):
        changes["status"] = status
    conv_service.update_conversation(db, conv, ctx.principal, changes)
    if conv.ticket_id:
        ticket = ticket_service.get_ticket(db, conv.ticket_id, ctx.principal)
        assign = build(AssignTicket, {"assignee_id": changes["assignee_id"], "team_id": changes["team_id"]})
        ticket_service.assign_ticket(db, ticket, ctx.principal, assign)
    return render(request, ctx, "partials/side.html", **_conversation_data(db, ctx, conversation_id))


@router.post("/console/tickets/{ticket_id}", response_class=HTMLResponse)
def update_ticket(
    request: Request,
    ticket_id: int,
    ctx: Ctx,
    db: DB,
    status: Annotated[str, Form()],
    priority: Annotated[str, Form()],
    conversation_id: Annotated[int, Form()],
) -> HTMLResponse:
    """Change a ticket's status and priority from the side panel."""
    if not ctx.principal.can("tickets:write"):
        raise Forbidden("Missing permission tickets:write.")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    try:
        cmd = build(ChangeTicketStatus, {"status": status, "priority": priority})
        ticket_service.change_ticket_status(db, ticket, ctx.principal, cmd)
        error = None
    except ProblemError as exc:
        db.rollback()
        error = exc.detail
    data = _conversation_data(db, ctx, conversation_id)
    return render(request, ctx, "partials/side.html", ticket_error=error, **data)
