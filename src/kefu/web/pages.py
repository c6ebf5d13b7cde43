"""Agent console pages (Jinja2 + HTMX): login, inbox views, conversation with cross-channel timeline."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session

from kefu.auth import labels as team_labels
from kefu.auth import service as auth_service
from kefu.auth.deps import DB, SettingsDep, app_settings, client_ip, require_csrf, set_session_cookie
from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.bot import service as bot_service
from kefu.brands import service as brand_service
from kefu.brands import theme as brand_theme
from kefu.brands.models import Brand
from kefu.channels import downloads, media, outbox
from kefu.channels.email import compose
from kefu.complaints import service as complaint_service
from kefu.conversations import inbox as inbox_views
from kefu.conversations import service as conv_service
from kefu.core.chinese import convert
from kefu.core.db import reads_of, utcnow
from kefu.core.errors import Forbidden, InvalidInput, NotFound, ProblemError, TooManyRequests, Unauthorized
from kefu.core.seedtext import seed_text
from kefu.customers import service as customer_service
from kefu.customers.accessibility import needs_of
from kefu.macros import actions as macro_actions
from kefu.macros import service as macros
from kefu.privacy.masking import PiiView, can_reveal
from kefu.security import reset as reset_service
from kefu.security.asgi import POLICY_KEY, STRICT_CSP, use_policy
from kefu.sla import labels as sla_labels
from kefu.sla import notifications as sla_notifications
from kefu.tickets import history as ticket_history
from kefu.tickets import listing
from kefu.tickets import service as ticket_service
from kefu.tickets.commands import AssignTicket, ChangeTicketStatus, build
from kefu.tickets.models import PRIORITIES, TICKET_STATUSES, Ticket
from kefu.tickets.tags import tag_label
from kefu.web import formatting
from kefu.web.errors import form_error, form_locale
from kefu.web.files import StoredFile
from kefu.web.forms import optional_int
from kefu.web.i18n import LOCALE_COOKIE, LOCALES, error_text, pick_locale, translator
from kefu.web.routing import Router
from kefu.workspace import collab
from kefu.workspace import service as views_service

log = logging.getLogger("kefu.web")
router = Router(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def lang_url(request: Request, locale: str) -> str:
    """This page in another language, as a path of this site: `GET //evil.example/x` must not link to evil.example."""
    url = request.url.include_query_params(lang=locale)
    return "/" + url.path.lstrip("/\\") + "?" + url.query


templates.env.globals["lang_url"] = lang_url  # the 繁/简/EN switch (base and help-centre layouts)
templates.env.globals["attach_limits"] = media.limits_for  # the composer states what the channel carries
templates.env.filters.update(formatting.filters())
templates.env.globals["category_label"] = ticket_service.category_label
templates.env.globals["sla_target"] = sla_labels.target_text  # SLA targets named in the page's locale
templates.env.globals["sla_snapshot"] = sla_labels.snapshot_targets
templates.env.globals["sla_policy_title"] = sla_labels.policy_title  # seed policies named in the page's locale
templates.env.globals["sla_policy_text"] = sla_labels.policy_description
templates.env.globals["sla_calendar_name"] = sla_labels.calendar_name
templates.env.globals["holiday_set_name"] = sla_labels.holiday_set_name
templates.env.globals["seed_text"] = seed_text  # any other seeded name (board categories): kefu.core.seedtext
templates.env.globals["team_name"] = team_labels.team_name  # seeded (demo) teams in the page's locale
templates.env.globals["tag_label"] = tag_label  # tags kefu sets, in the page's locale; free tags as typed
templates.env.globals["notification_title"] = sla_notifications.title_in  # titled in the page's locale
templates.env.globals["audit_lines"] = ticket_history.describe  # a case's history in the reader's language
templates.env.globals["brand_theme"] = brand_theme.theme_of  # help-centre layout: logo, favicon, brand.css version
VIEWS = ("mine", "team", "unassigned", "sla", "vip", "complaints", "all", "closed")
TICKET_VIEWS = ("sla", "complaints")


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


def console_context(request: Request) -> PageContext | None:
    """The signed-in agent of a console error page, so it keeps the navigation (None when signed out)."""
    # Its own read session (the request's has been rolled back); no CSRF check: the error page acts on nothing.
    settings = app_settings(request)
    cookie = request.cookies.get(settings.session_cookie)
    if not cookie:
        return None
    session: Session = reads_of(getattr(request.app.state, "session_factory", None))()
    try:
        resolved = auth_service.resolve_session(session, cookie, client_ip(request))
        if resolved is None:
            return None
        principal, row = resolved
        agent = auth_service.get_agent(session, principal.agent_id)
        locale = pick_locale(request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE), agent.locale)
        return PageContext(principal, agent, row.csrf_token, locale)
    finally:
        session.close()  # discards the last-seen touch; unlike rollback() it leaves the loaded agent readable


def back_link(request: Request) -> str | None:
    """The console page the agent came from (same site, another page), for an error page's "back" link."""
    parts = urlsplit(request.headers.get("referer") or "")
    if parts.netloc != request.url.netloc or parts.path == request.url.path:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def public_locale(request: Request, fallback: str | None = None) -> str:
    """A customer page's language: ?lang=, the language cookie, then `fallback` (the brand's), then the default."""
    return pick_locale(request.query_params.get("lang"), request.cookies.get(LOCALE_COOKIE) or fallback)


def render(request: Request, ctx: PageContext | None, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    """Render a template with the common context."""
    # Customer pages fall back to the brand's language (page_locale) before the site default.
    fallback = data.pop("page_locale", None)
    locale = ctx.locale if ctx else public_locale(request, fallback)
    data.update(
        request=request,
        ctx=ctx,
        t=translator(locale),
        locale=locale,
        locales=LOCALES,
        pii=PiiView(ctx.principal if ctx else None),
    )
    brand = data.get("brand")
    if isinstance(brand, Brand):
        logo = brand_theme.theme_of(brand).logo
        if logo and logo.startswith("https://"):  # a brand logo given as an address on another host
            host = urlsplit(logo)
            current = request.scope.get("state", {}).get(POLICY_KEY, STRICT_CSP)  # keep a route's own widening
            use_policy(request.scope, current.extend(img_src=[f"{host.scheme}://{host.netloc}"]))
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
        raise NotFound.said("err_web_not_found")
    found = brand_service.public_web_chat(db, brand)
    if found is None:
        raise NotFound.said("err_web_no_web_chat")
    row, inbox = found
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


def bilingual_label(label_zh: str | None, label_en: str | None, locale: str) -> str:
    """A label stored as Chinese + English (criteria, custom fields, survey dimensions) for a reader of `locale`.

    zh-CN readers get the stored (Traditional) wording in Simplified script; an empty English label falls back.
    """
    if locale == "en" and label_en:
        return label_en
    zh = label_zh or label_en or ""
    return convert(zh, "tw2sp") if locale == "zh-CN" else zh


templates.env.globals["zh_en"] = bilingual_label

_NEXT_ALLOWED = re.compile(r"^/(console|admin|ops)(/[A-Za-z0-9._~%/+-]*)?(\?[A-Za-z0-9._~%&=+,:-]*)?$")


def safe_next(value: str | None) -> str | None:
    """Where to go after signing in: only a page of this site (console, admin, ops), never another origin."""
    # A relative path only: "//evil.example", "/\\evil.example", "https://…" and control characters do not match.
    return value if value and len(value) <= 1000 and _NEXT_ALLOWED.match(value) else None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=1000)] = None) -> HTMLResponse:
    """Sign-in page (`next`: the console page the agent was sent here from)."""
    return render(request, None, "login.html", error=None, email="", next_url=safe_next(next))


def same_origin(request: Request) -> bool:
    """False when a browser says the form was posted from another site (unauthenticated forms)."""
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
    next: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """Check credentials, set the session cookie, go back to the page that asked for a sign-in (else the console)."""
    if not same_origin(request):
        raise Forbidden.said("err_web_cross_site_login")
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
        return render(request, None, "login.html", status=exc.status, error=key, email=email, next_url=safe_next(next))
    response = RedirectResponse(safe_next(next) or "/console", status_code=303)
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
    if not same_origin(request):
        raise Forbidden.said("err_web_cross_site_request")
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
    if not same_origin(request):
        raise Forbidden.said("err_web_cross_site_request")
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


@router.get("/console", response_model=None)
def inbox(request: Request, ctx: Ctx, db: DB, view: str = "mine", q: str | None = None) -> Response:
    """Inbox views: mine, team, unassigned, VIP, all, closed."""
    view = view if view in VIEWS else "mine"
    if view in TICKET_VIEWS:
        # These views are about cases, many of which have no conversation (phone, complaints register).
        return RedirectResponse(f"/console/tickets?view={view}", status_code=303)
    items = inbox_views.inbox(db, ctx.principal, view, q)
    name = "partials/conv_list.html" if request.headers.get("HX-Request") else "inbox.html"
    local = listing.LocalTime(listing.brand_zones(db, {it.conv.brand_id for it in items}))
    return render(
        request, ctx, name, view=view, views=VIEWS, items=items, q=q or "", brand_ids=_brand_ids(db, ctx), local=local
    )


def _brand_ids(db: Session, ctx: PageContext) -> list[int]:
    return brand_service.visible_brand_ids(db, ctx.principal)


# ---------------------------------------------------------------- conversation


def _conversation_data(db: Session, ctx: PageContext, conversation_id: int) -> dict[str, Any]:
    ws = inbox_views.workspace(db, ctx.principal, conversation_id)
    conv, customer, brand, ticket, timeline = ws.conv, ws.customer, ws.brand, ws.ticket, ws.timeline
    tier_name = customer_service.tier_name(brand, customer.tier, ctx.locale)
    values = {
        # Agents without pii:reveal keep the placeholder; it is filled in server-side when the reply is sent.
        "customer_name": (customer.name or "") if can_reveal(ctx.principal) else "{customer_name}",
        "agent_name": ctx.agent.name,
        "ticket_number": ticket.number if ticket else "",
        "brand_name": brand.name,
    }
    canned = [
        (c, macros.render(c.body, values))
        for c in macros.offered(
            db, ctx.principal, brand_id=brand.id, prefer=(customer.locale or brand.default_locale, ctx.agent.locale)
        )
    ]
    outbound = [m.id for m, _ in timeline if m.sender_type in ("agent", "bot") and not m.is_note]
    return {
        "agents_json": {str(a.id): a.name for a in ws.agents.values()},
        "deliveries": outbox.deliveries(db, outbound),
        "local": listing.LocalTime(listing.brand_zones(db, {conv.brand_id})),
        "canned": canned,
        "conv": conv,
        "customer": customer,
        "brand": brand,
        "timeline": timeline,
        "agents": ws.agents,
        "assignees": ws.assignees,
        "teams": ws.teams,
        "ticket": ticket,
        "tickets": ws.tickets,
        "identities": ws.identities,
        "org": ws.org,
        "tier_name": tier_name,
        "access_needs": needs_of(db, customer.id),
        "statuses": TICKET_STATUSES,
        "priorities": PRIORITIES,
    }


@router.get("/console/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation(request: Request, conversation_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Conversation view: timeline, composer, assignment, ticket fields, customer panel."""
    back_url, back_label = _back_link(request, ctx)
    data = _conversation_data(db, ctx, conversation_id)
    return render(request, ctx, "conversation.html", back_url=back_url, back_label=back_label, **data)


def _back_link(request: Request, ctx: PageContext) -> tuple[str, str]:
    """Where "back" goes: the console view or ticket list the agent came from (local paths only)."""
    back = request.query_params.get("back", "")
    if not back.startswith("/console") or back.startswith("//") or "\\" in back:
        return "/console", ctx.t["view_mine"]
    url = urlsplit(back)
    params = dict(parse_qsl(url.query))
    view = params.get("view", "")
    if url.path == "/console/tickets":
        label = ctx.t["nav_tickets"] + (f" · {ctx.t['view_' + view]}" if view in VIEWS else "")
    elif url.path == "/console":
        label = ctx.t["view_" + view] if view in VIEWS else ctx.t["view_mine"]
    elif url.path.startswith("/console/tickets/"):
        label = ctx.t["cs_title"]
    else:
        label = ctx.t["nav_inbox"]
    return back, label


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
    body: Annotated[str, Form(max_length=100_000)] = "",
    mode: Annotated[str, Form(pattern="^(reply|note)$")] = "reply",
    files: Annotated[list[UploadFile] | None, File()] = None,
    subject: Annotated[str, Form(max_length=500)] = "",
    cc: Annotated[str, Form(max_length=3000)] = "",
) -> HTMLResponse:
    """Send a reply or add an internal note (with attachments the channel can carry); returns the timeline."""
    if not ctx.principal.can("conversations:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="conversations:write")
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    customer = customer_service.get_customer(db, conv.customer_id, ctx.principal)
    text = macros.render(body.strip(), {"customer_name": customer.name})
    uploads = [
        media.Upload(f.filename, f.content_type or "", f.file.read(media.MAX_READ)) for f in files or [] if f.filename
    ]
    # Email replies may carry the agent's subject and Cc (validated; a bad address is a 422 before anything is sent).
    try:
        email_fields = (
            compose.email_meta(subject, cc, conv.subject) if conv.channel == "email" and mode == "reply" else {}
        )
    except compose.BadAddress as exc:
        # Shown under the Cc field like every form error (kefu.web.errors.form_error); nothing is stored or sent.
        t = translator(form_locale(request))
        return form_error(request, 422, None, fields={"cc": t["em3_bad_cc"].format(v=exc.value)})
    try:
        # add_message flushes, so the note has its id before the mentions point at it.
        message = media.reply(
            db,
            conv,
            agent_id=ctx.agent.id,
            body=text,
            uploads=uploads,
            note=mode == "note",
            meta={"email": email_fields} if email_fields else None,
        )
    except InvalidInput as exc:  # nothing to send, or a file the channel cannot carry: said under the field
        from kefu.channels.pages import problem_text

        locale = form_locale(request)
        t = translator(locale)
        if exc.extra.get("code") == "empty":  # neither text nor a file: the message box is what is missing
            return form_error(request, exc.status, None, fields={"body": t["fe_missing"]})
        return form_error(request, exc.status, None, fields={"files": problem_text(t, locale, exc)})
    mentioned = collab.notify_mentions(db, conv, message, ctx.agent) if message.is_note else []
    response = render(request, ctx, "partials/timeline.html", **_conversation_data(db, ctx, conversation_id))
    if mentioned:
        # The composer shows who was notified (names only, ASCII-safe JSON in the header).
        response.headers["HX-Trigger"] = json.dumps({"kefu:mentioned": {"names": [a.name for a in mentioned]}})
    return response


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
        raise Forbidden.said("err_auth_missing_permission", permission="conversations:write")
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


# ---------------------------------------------------------------- ticket list and case page


def _ticket_query(request: Request) -> listing.TicketQuery:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in ("status", "priority"):
            params.setdefault(key, []).append(value)
        else:
            params[key] = value
    try:
        return listing.TicketQuery.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}") from exc


@router.get("/console/tickets", response_class=HTMLResponse)
def ticket_list(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """All tickets (with or without a conversation): views, filters, sort, keyset pages, bulk actions."""
    if not ctx.principal.can("tickets:read"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:read")
    query = _ticket_query(request)
    rows, next_cursor = listing.list_page(db, ctx.principal, query)
    here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        ctx,
        "tickets.html",
        query=query,
        rows=rows,
        next_cursor=next_cursor,
        here=here,
        now=utcnow(),
        humanize=listing.humanize,
        qs=urlencode,
        options=listing.filter_options(db, ctx.principal),
        brand_ids=_brand_ids(db, ctx),
        local=listing.LocalTime(listing.brand_zones(db, {r.ticket.brand_id for r in rows})),
        saved_views=views_service.list_views(db, ctx.principal),
        save_qs=urlencode(query.params(cursor=None)),
        macros=macro_actions.list_macros(db, ctx.principal) if ctx.principal.can("tickets:write") else [],
    )


@router.post("/console/tickets/views", response_model=None)
def save_view(
    ctx: Ctx,
    db: DB,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    query: Annotated[str, Form(max_length=4000)] = "",
    shared: Annotated[str, Form(max_length=8)] = "",
    brand_id: Annotated[str, Form(max_length=18)] = "",
) -> Response:
    """Save the current filters as a personal view, or shared with a brand."""
    if not ctx.principal.can("tickets:read"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:read")
    view = views_service.create_view(
        db,
        ctx.principal,
        name=name,
        query_string=query,
        shared=bool(shared),
        brand_id=int(brand_id) if brand_id.isdigit() else None,
    )
    target = "/console/tickets" + (f"?{view.query_string()}" if view.params else "")
    return Response(status_code=204, headers={"HX-Redirect": target})


@router.post("/console/tickets/views/{view_id}/delete", response_model=None)
def delete_view(view_id: int, ctx: Ctx, db: DB) -> Response:
    """Delete a saved view (owner, or a supervisor for shared views)."""
    views_service.delete_view(db, ctx.principal, view_id)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post("/console/tickets/bulk", response_class=HTMLResponse)
def ticket_bulk(
    request: Request,
    ctx: Ctx,
    db: DB,
    ticket_ids: Annotated[list[int], Form(max_length=200)],
    action: Annotated[str, Form(pattern="^(assign|status|tag|macro)$")],
    value: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Assign, change status, tag or apply a macro to the selected tickets (each change audited)."""
    if not ctx.principal.can("tickets:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:write")
    done, failed = 0, 0
    macro = macro_actions.get(db, int(value), ctx.principal) if action == "macro" and value.isdigit() else None
    if action == "macro" and macro is None:
        raise InvalidInput.said("err_web_choose_macro")
    for ticket_id in ticket_ids:
        try:
            with db.begin_nested():
                ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
                if macro is not None:
                    macro_actions.apply(db, macro, ticket, ctx.principal)
                    done += 1
                    continue
                if action == "assign":
                    changes: dict[str, Any] = {"assignee_id": int(value) if value.isdigit() else None}
                elif action == "status":
                    changes = {"status": value}
                else:
                    tag = value.strip()
                    if not tag:
                        raise InvalidInput.said("err_web_tag_empty")
                    changes = {"tags": [*ticket.tags, tag]}
                ticket_service.update_ticket(db, ticket, ctx.principal, changes)
            done += 1
        except ProblemError:
            failed += 1
    t = translator(ctx.locale)
    text = t["tl_bulk_done"].format(n=done) + (" · " + t["tl_bulk_failed"].format(n=failed) if failed else "")
    response = render(request, ctx, "partials/bulk_result.html", text=text, failed=failed)
    response.headers["HX-Trigger"] = "kefu:refresh"
    return response


@router.get("/console/tickets/{ticket_id}", response_class=HTMLResponse)
def case_page(request: Request, ticket_id: int, ctx: Ctx, db: DB, saved: bool = False) -> HTMLResponse:
    """The case page of any ticket, with or without a conversation."""
    if not ctx.principal.can("tickets:read"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:read")
    data = listing.case_data(db, ctx.principal, ticket_id)
    return render(
        request,
        ctx,
        "case.html",
        humanize=listing.humanize,
        saved=saved,
        error=None,
        **_case_local(db, data, ctx.locale),
        **data,
    )


def _case_local(db: Session, data: dict[str, Any], locale: str) -> dict[str, Any]:
    local = listing.LocalTime(listing.brand_zones(db, {data["ticket"].brand_id}))
    customer = data["customer"]
    # The membership tier (#21) next to the customer, named as the brand names it, in the reader's language.
    tier = None
    if customer:
        brands = customer_service.listed_brands(db, [customer])
        tier = customer_service.tier_names([customer], brands, locale)[customer.id]
    return {"local": local, "history_names": listing.case_history_names(db, data, local), "customer_tier": tier}


@router.post("/console/tickets/{ticket_id}/fields", response_class=HTMLResponse)
def case_update(
    request: Request,
    ticket_id: int,
    ctx: Ctx,
    db: DB,
    status: Annotated[str, Form(max_length=16)],
    priority: Annotated[str, Form(max_length=16)],
    assignee_id: Annotated[str, Form(max_length=18)] = "",
    team_id: Annotated[str, Form(max_length=18)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    cf_key: Annotated[list[str] | None, Form(max_length=100)] = None,
    cf_value: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> HTMLResponse:
    """Save the case fields through tickets.service.update_ticket (transitions, SLA, routing and audit apply)."""
    if not ctx.principal.can("tickets:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:write")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    changes: dict[str, Any] = {
        "status": status,
        "priority": priority,
        "assignee_id": int(assignee_id) if assignee_id.isdigit() else None,
        "team_id": int(team_id) if team_id.isdigit() else None,
        "tags": [x.strip() for x in tags.replace("，", ",").split(",") if x.strip()],
    }
    if category:
        changes["category"] = category
    if cf_key:
        changes["custom_fields"] = listing.custom_fields_from_form(db, ticket.brand_id, cf_key, cf_value or [])
    error = None
    try:
        with db.begin_nested():
            ticket_service.update_ticket(db, ticket, ctx.principal, changes)
    except ProblemError as exc:
        error = error_text(ctx, exc)
    return _case_after_post(request, ctx, db, ticket_id, error)


def _case_after_post(
    request: Request, ctx: PageContext, db: Session, ticket_id: int, error: str | None
) -> HTMLResponse:
    """The case page again after a form post: saved, or the post's error said in the page."""
    data = listing.case_data(db, ctx.principal, ticket_id)
    return render(
        request,
        ctx,
        "case.html",
        humanize=listing.humanize,
        saved=error is None,
        error=error,
        **_case_local(db, data, ctx.locale),
        **data,
    )


def _case_step(
    request: Request, ctx: PageContext, db: Session, ticket_id: int, work: Callable[[Ticket], None]
) -> HTMLResponse:
    """A case-page form's work on the case (tickets:write, brand-checked) in a savepoint; a refusal said in the page."""
    if not ctx.principal.can("tickets:write"):
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:write")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    error = None
    try:
        with db.begin_nested():
            work(ticket)
    except ProblemError as exc:
        error = error_text(ctx, exc)
    return _case_after_post(request, ctx, db, ticket_id, error)


# Complaint SOP and regulator letters on the case page (#14, #15, #17): the steps the deadlines measure are buttons
# here, not only API calls, so the ✓ next to each deadline comes from the agent's own work on the case.
COMPLAINT_STEPS = ("register", "acknowledge", "task_force", "reply", "close")


@router.post("/console/tickets/{ticket_id}/complaint/{step}", response_class=HTMLResponse)
def case_complaint(
    request: Request,
    ticket_id: int,
    step: str,
    ctx: Ctx,
    db: DB,
    message: Annotated[str, Form(max_length=20_000)] = "",
    members: Annotated[list[int] | None, Form(max_length=50)] = None,
) -> HTMLResponse:
    """Register the case as a complaint, acknowledge it, form a major one's task force, reply in full or close it."""
    if step not in COMPLAINT_STEPS:
        raise NotFound.said("err_web_not_found")

    def work(ticket: Ticket) -> None:
        if step == "register":
            complaint_service.register_for_ticket(db, ticket, ctx.principal)
            return
        complaint = complaint_service.complaint_of_ticket(db, ticket)
        if step == "task_force":
            if not members:
                raise InvalidInput.said("err_web_task_force_members")
            complaint_service.form_task_force(db, complaint, ctx.principal, sorted(set(members)))
            return
        text = message.strip()
        if not text:
            raise InvalidInput.said("err_web_message_required")
        if step == "acknowledge":
            complaint_service.acknowledge(db, complaint, ctx.principal, text)
        elif step == "reply":
            complaint_service.reply(db, complaint, ctx.principal, text)
        else:
            complaint_service.close_complaint(db, complaint, ctx.principal, text)

    return _case_step(request, ctx, db, ticket_id, work)


@router.post("/console/tickets/{ticket_id}/regulator/{step}", response_class=HTMLResponse)
def case_regulator(
    request: Request,
    ticket_id: int,
    step: str,
    ctx: Ctx,
    db: DB,
    message: Annotated[str, Form(max_length=20_000)] = "",
) -> HTMLResponse:
    """Record the full reply to the agency (what the 15-day deadline measures) or close the answered letter."""
    if step not in ("reply", "close"):
        raise NotFound.said("err_web_not_found")

    def work(ticket: Ticket) -> None:
        case = complaint_service.regulator_case_of_ticket(db, ticket)
        if step == "close":
            complaint_service.close_regulator_case(db, case, ctx.principal)
        elif not message.strip():
            raise InvalidInput.said("err_web_message_required")
        else:
            complaint_service.reply_regulator_case(db, case, ctx.principal, message.strip())

    return _case_step(request, ctx, db, ticket_id, work)


@router.post("/console/tickets/{ticket_id}/merge", response_class=HTMLResponse)
def case_merge(
    request: Request,
    ticket_id: int,
    ctx: Ctx,
    db: DB,
    number: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse:
    """Merge a duplicate (named by its number) into this case through tickets.service.merge_tickets."""

    def work(ticket: Ticket) -> None:
        if not number.strip():
            raise InvalidInput.said("err_tickets_merge_needs_ticket")
        source = ticket_service.get_ticket_by_number(db, number, ctx.principal)
        ticket_service.merge_tickets(db, ticket, [source], ctx.principal)

    return _case_step(request, ctx, db, ticket_id, work)


_INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@router.get("/console/attachments/{attachment_id}", response_model=None)
def console_attachment(attachment_id: int, ctx: Ctx, db: DB, inline: bool = False) -> StoredFile:
    """A conversation attachment for agents who may open that conversation (thumbnails inline, raster images only)."""
    row, path = downloads.attachment_for(db, attachment_id, ctx.principal)
    # Only raster images render inline (thumbnails); anything else, SVG included, is always a download. The ASGI
    # layer adds its sandbox CSP (kefu.security.asgi.FILE_CSP), as to every response that is not a page.
    as_inline = inline and row.content_type in _INLINE_IMAGES
    return StoredFile(
        path,
        media_type=row.content_type if as_inline else "application/octet-stream",
        filename=row.filename,
        content_disposition_type="inline" if as_inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


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
        raise Forbidden.said("err_auth_missing_permission", permission="tickets:write")
    ticket = ticket_service.get_ticket(db, ticket_id, ctx.principal)
    try:
        cmd = build(ChangeTicketStatus, {"status": status, "priority": priority})
        ticket_service.change_ticket_status(db, ticket, ctx.principal, cmd)
        error = None
    except ProblemError as exc:
        db.rollback()
        error = error_text(ctx, exc)
    data = _conversation_data(db, ctx, conversation_id)
    return render(request, ctx, "partials/side.html", ticket_error=error, **data)
