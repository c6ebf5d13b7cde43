"""Admin console pages (server-rendered forms + HTMX) over the same services as the API."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth import service as auth_service
from kefu.auth.deps import DB
from kefu.auth.models import ROLES, Agent, AgentBrand, Team, TeamMember
from kefu.bot import service as bot_service
from kefu.brands import service as brand_service
from kefu.brands.models import CHANNEL_KINDS, Brand, Inbox
from kefu.core.errors import Forbidden, InvalidInput, ProblemError
from kefu.followups import service as followups
from kefu.knowledge import service as kb_service
from kefu.knowledge.models import LOCALES
from kefu.macros import service as macros
from kefu.routing import service as routing_service
from kefu.routing.models import STRATEGIES, RoutingRule, TeamRouting
from kefu.sla import service as sla_service
from kefu.sla.calendar import CalendarConfig
from kefu.sla.models import SlaCalendar, SlaPolicyRecord
from kefu.sla.policy import DEFAULT_SERVICE_TIER, SERVICE_TIERS, SlaPolicy
from kefu.web.forms import lenient_int, optional_int
from kefu.web.pages import Ctx, PageContext, render

router = APIRouter(include_in_schema=False, prefix="/admin")
TABS: dict[str, str] = {
    "brands": "brands:manage",
    "agents": "agents:manage",
    "teams": "teams:manage",
    "inboxes": "brands:manage",
    "sla": "teams:manage",
    "routing": "teams:manage",
    "kb": "kb:write",
    "review": "kb:write",
    "canned": "kb:write",
    "followups": "teams:manage",
}


def _allowed_tabs(ctx: PageContext) -> list[str]:
    return [tab for tab, perm in TABS.items() if ctx.principal.can(perm)]


def _need(ctx: PageContext, tab: str) -> None:
    if not ctx.principal.can(TABS[tab]):
        raise Forbidden(f"Missing permission {TABS[tab]}.")


def _brands(db: Session, ctx: PageContext) -> list[Brand]:
    stmt = select(Brand).order_by(Brand.id)
    if ctx.principal.brand_ids is not None:
        stmt = stmt.where(Brand.id.in_(ctx.principal.brand_ids))
    return list(db.scalars(stmt))


KB_PAGE = 50


def _tab_data(
    db: Session,
    ctx: PageContext,
    tab: str,
    brand_id: int | None,
    locale: str | None,
    q: str | None = None,
    page: int = 1,
) -> dict[str, Any]:
    brands = _brands(db, ctx)
    brand = next((b for b in brands if b.id == brand_id), brands[0] if brands else None)
    data: dict[str, Any] = {
        "tab": tab,
        "tabs": _allowed_tabs(ctx),
        "brands": brands,
        "brand": brand,
        "kb_locales": LOCALES,
        "kb_locale": locale if locale in LOCALES else ctx.agent.locale,
    }
    if tab == "brands":
        data["as_json"] = _pretty
        data["service_tiers"], data["default_tier"] = SERVICE_TIERS, DEFAULT_SERVICE_TIER
    if tab == "agents":
        data["agents"] = list(db.scalars(select(Agent).order_by(Agent.id)))
        data["roles"] = ROLES
        data["agent_brands"] = {(ab.agent_id, ab.brand_id) for ab in db.scalars(select(AgentBrand))}
    elif tab == "teams" and brand:
        teams = list(db.scalars(select(Team).where(Team.brand_id == brand.id).order_by(Team.id)))
        members: dict[int, set[int]] = {t.id: set() for t in teams}
        for tm in db.scalars(select(TeamMember).where(TeamMember.team_id.in_(members))):
            members[tm.team_id].add(tm.agent_id)
        data.update(
            teams=teams, members=members, agents=list(db.scalars(select(Agent).where(Agent.is_active.is_(True))))
        )
    elif tab == "inboxes" and brand:
        data.update(
            inboxes=list(db.scalars(select(Inbox).where(Inbox.brand_id == brand.id).order_by(Inbox.id))),
            kinds=CHANNEL_KINDS,
            fields=brand_service.INBOX_FIELDS,
        )
    elif tab == "sla" and brand:
        data["policies"] = list(
            db.scalars(
                select(SlaPolicyRecord)
                .where(SlaPolicyRecord.brand_id == brand.id)
                .order_by(SlaPolicyRecord.position, SlaPolicyRecord.id)
            )
        )
        data["calendars"] = list(
            db.scalars(select(SlaCalendar).where(SlaCalendar.brand_id == brand.id).order_by(SlaCalendar.id))
        )
        data["as_json"] = _pretty
    elif tab == "routing" and brand:
        teams = list(db.scalars(select(Team).where(Team.brand_id == brand.id).order_by(Team.id)))
        data.update(
            rules=list(
                db.scalars(
                    select(RoutingRule)
                    .where(RoutingRule.brand_id == brand.id)
                    .order_by(RoutingRule.position, RoutingRule.id)
                )
            ),
            teams=teams,
            team_configs={
                t.team_id: t for t in db.scalars(select(TeamRouting).where(TeamRouting.brand_id == brand.id))
            },
            strategies=STRATEGIES,
            as_json=_pretty,
        )
    elif tab == "review" and brand:
        items, _ = bot_service.list_review(db, ctx.principal, brand_id=brand.id, status="open", limit=100, cursor=None)
        faqs = kb_service.list_faqs(db, ctx.principal, brand_id=brand.id, locale=None, published_only=False)
        data.update(review=items, faqs=faqs)
    elif tab == "kb" and brand:
        # A bank has 1,000+ FAQs per locale: a page of 50 at a time, with a search box.
        page = max(page, 1)
        data["faqs"], data["kb_total"] = kb_service.search_faqs(
            db,
            ctx.principal,
            brand_id=brand.id,
            locale=data["kb_locale"],
            q=q,
            limit=KB_PAGE,
            offset=(page - 1) * KB_PAGE,
        )
        data.update(kb_q=q or "", kb_page=page, kb_pages=max((data["kb_total"] + KB_PAGE - 1) // KB_PAGE, 1))
    elif tab == "canned" and brand:
        data["canned"] = macros.search(db, ctx.principal, brand_id=brand.id, locale=None, q=None, limit=500)
    elif tab == "followups" and brand:
        data["fu_rules"] = followups.list_rules(db, ctx.principal, brand.id)
    return data


@router.get("", response_class=HTMLResponse, response_model=None)
def admin(
    request: Request,
    ctx: Ctx,
    db: DB,
    tab: str = "",
    brand_id: int | None = None,
    locale: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse | RedirectResponse:
    """Admin home: the first tab the caller may use."""
    tabs = _allowed_tabs(ctx)
    if not tabs:
        raise Forbidden("No admin permissions.")
    tab = tab if tab in tabs else tabs[0]
    data = _tab_data(db, ctx, tab, brand_id, locale, q, page)
    return render(request, ctx, "admin/admin.html", error=None, **data)


def _redisplay(
    request: Request,
    ctx: PageContext,
    db: Session,
    tab: str,
    brand_id: int | None,
    error: str | None = None,
    locale: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        ctx,
        "admin/admin.html",
        status=422 if error else 200,
        error=error,
        **_tab_data(db, ctx, tab, brand_id, locale),
    )


@router.post("/agents", response_class=HTMLResponse)
def create_agent(
    request: Request,
    ctx: Ctx,
    db: DB,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=512)],
    brand_ids: Annotated[list[int] | None, Form()] = None,
) -> HTMLResponse:
    """Create an agent."""
    _need(ctx, "agents")
    try:
        auth_service.create_agent(
            db, email=email, name=name, password=password, role=role, brand_ids=brand_ids or [], actor=ctx.principal
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "agents", None, exc.detail)
    return _redisplay(request, ctx, db, "agents", None)


@router.post("/agents/{agent_id}", response_class=HTMLResponse)
def update_agent(
    request: Request,
    agent_id: int,
    ctx: Ctx,
    db: DB,
    role: Annotated[str, Form()],
    active: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Change an agent's role or deactivate them (revokes their sessions)."""
    _need(ctx, "agents")
    agent = auth_service.get_agent(db, agent_id)
    if agent.id == ctx.agent.id and (role != agent.role or not active):
        return _redisplay(request, ctx, db, "agents", None, "You cannot demote or deactivate yourself.")
    auth_service.update_agent(db, agent, actor=ctx.principal, role=role, is_active=bool(active))
    return _redisplay(request, ctx, db, "agents", None)


@router.post("/teams", response_class=HTMLResponse)
def create_team(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    slug: Annotated[str, Form(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
) -> HTMLResponse:
    """Create a team."""
    _need(ctx, "teams")
    try:
        brand_service.get_brand(db, brand_id, ctx.principal)
        auth_service.create_team(db, brand_id=brand_id, slug=slug, name=name, description="", actor=ctx.principal)
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "teams", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "teams", brand_id)


@router.post("/teams/{team_id}/members", response_class=HTMLResponse)
def team_members(
    request: Request,
    team_id: int,
    ctx: Ctx,
    db: DB,
    agent_ids: Annotated[list[int] | None, Form()] = None,
) -> HTMLResponse:
    """Replace a team's members."""
    _need(ctx, "teams")
    team = db.get(Team, team_id)
    if team is None or not ctx.principal.can_access_brand(team.brand_id):
        raise Forbidden("No access to that team.")
    auth_service.set_team_members(db, team, [(a, False) for a in agent_ids or []], ctx.principal)
    return _redisplay(request, ctx, db, "teams", team.brand_id)


@router.post("/inboxes", response_class=HTMLResponse)
def create_inbox(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    kind: Annotated[str, Form()],
    name: Annotated[str, Form(min_length=1, max_length=200)],
) -> HTMLResponse:
    """Add a channel inbox to a brand."""
    _need(ctx, "inboxes")
    try:
        brand = brand_service.get_brand(db, brand_id, ctx.principal)
        brand_service.create_inbox(db, brand, kind=kind, name=name, config={}, actor=ctx.principal)
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "inboxes", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "inboxes", brand_id)


@router.post("/inboxes/{inbox_id}", response_class=HTMLResponse)
async def update_inbox(request: Request, inbox_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Save an inbox's channel settings; blank secret fields keep the stored secret."""
    _need(ctx, "inboxes")
    inbox = db.get(Inbox, inbox_id)
    if inbox is None or not ctx.principal.can_access_brand(inbox.brand_id):
        raise Forbidden("No access to that inbox.")
    form = await request.form()
    changes: dict[str, Any] = {}
    for key, kind in brand_service.INBOX_FIELDS.get(inbox.kind, ()):
        raw = str(form.get(f"cfg_{key}", "")).strip()
        if kind == "secret":
            if raw:
                changes[key] = raw
        elif kind == "bool":
            changes[key] = form.get(f"cfg_{key}") == "1"
        elif kind == "int":
            if raw and lenient_int(raw) is None:
                return _redisplay(request, ctx, db, "inboxes", inbox.brand_id, f"{key}: a whole number is required.")
            changes[key] = optional_int(raw, key)
        elif kind == "status":  # the bot switch: checked = new conversations start with the bot
            changes[key] = "bot" if form.get(f"cfg_{key}") == "bot" else "open"
        elif kind == "greeting":
            changes[key] = {loc: str(form.get(f"cfg_{key}_{loc}", "")).strip() for loc in LOCALES}
        else:
            changes[key] = raw or None
    name = str(form.get("name", "")).strip() or None
    try:
        brand_service.update_inbox(
            db, inbox, ctx.principal, name=name, is_active=form.get("is_active") == "1", config=changes
        )
    except ProblemError as exc:  # e.g. an unknown case policy: show it on the form, not as a bare error
        db.rollback()
        return _redisplay(request, ctx, db, "inboxes", inbox.brand_id, exc.detail)
    return _redisplay(request, ctx, db, "inboxes", inbox.brand_id)


@router.post("/review/{item_id}", response_class=HTMLResponse)
def review_item(
    request: Request,
    item_id: int,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    faq_id: Annotated[str, Form()] = "",
    dismiss: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Attach an unanswered question to an FAQ (the bot learns it within seconds) or dismiss it."""
    _need(ctx, "review")
    try:
        if dismiss:
            bot_service.dismiss_review(db, item_id, ctx.principal)
        elif faq_id:
            bot_service.attach_review(db, item_id, optional_int(faq_id, "faq_id") or 0, ctx.principal)
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "review", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "review", brand_id)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError as exc:
        raise InvalidInput(f"Invalid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput("A JSON object is required.")
    return value


@router.post("/sla/policies/{policy_id}", response_class=HTMLResponse)
def save_policy(
    request: Request,
    policy_id: int,
    ctx: Ctx,
    db: DB,
    definition: Annotated[str, Form(max_length=50_000)],
    active: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Edit an SLA policy's definition (validated like the API; running tickets keep their snapshot)."""
    _need(ctx, "sla")
    row = sla_service.get_policy(db, policy_id, ctx.principal)
    try:
        policy = SlaPolicy.model_validate({**_json_object(definition), "name": row.name})
        sla_service.update_policy(db, row, ctx.principal, policy=policy, is_active=bool(active))
    except (ProblemError, ValidationError) as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "sla", row.brand_id, _problem_text(exc))
    return _redisplay(request, ctx, db, "sla", row.brand_id)


@router.post("/sla/calendars/{calendar_id}", response_class=HTMLResponse)
def save_calendar_page(
    request: Request,
    calendar_id: int,
    ctx: Ctx,
    db: DB,
    config: Annotated[str, Form(max_length=100_000)],
) -> HTMLResponse:
    """Edit a business calendar (hours, holidays, 補班 make-up workdays)."""
    _need(ctx, "sla")
    row = sla_service.get_calendar(db, calendar_id, ctx.principal)
    try:
        parsed = CalendarConfig.model_validate(_json_object(config))
        sla_service.save_calendar(
            db, brand_id=row.brand_id, config=parsed, actor=ctx.principal, team_id=row.team_id, row=row
        )
    except (ProblemError, ValidationError) as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "sla", row.brand_id, _problem_text(exc))
    return _redisplay(request, ctx, db, "sla", row.brand_id)


@router.post("/routing/rules", response_class=HTMLResponse)
def create_rule(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    conditions: Annotated[str, Form(max_length=10_000)] = "{}",
    team_id: Annotated[str, Form()] = "",
    set_priority: Annotated[str, Form()] = "",
    priority_bump: Annotated[int, Form(ge=0, le=3)] = 0,
) -> HTMLResponse:
    """Add a routing rule (conditions as JSON, e.g. {"category": "payment_failure"})."""
    _need(ctx, "routing")
    try:
        routing_service.create_rule(
            db,
            brand_id=brand_id,
            actor=ctx.principal,
            name=name,
            conditions=_json_object(conditions),
            team_id=optional_int(team_id, "team_id"),
            set_priority=set_priority or None,
            priority_bump=priority_bump,
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "routing", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "routing", brand_id)


@router.post("/routing/rules/{rule_id}", response_class=HTMLResponse)
def update_rule(
    request: Request,
    rule_id: int,
    ctx: Ctx,
    db: DB,
    conditions: Annotated[str, Form(max_length=10_000)],
    team_id: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
    delete: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Change or delete a routing rule."""
    _need(ctx, "routing")
    rule = routing_service.get_rule(db, rule_id, ctx.principal)
    brand_id = rule.brand_id
    try:
        if delete:
            routing_service.delete_rule(db, rule, ctx.principal)
        else:
            routing_service.update_rule(
                db,
                rule,
                ctx.principal,
                {
                    "conditions": _json_object(conditions),
                    "team_id": optional_int(team_id, "team_id"),
                    "is_active": bool(active),
                },
            )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "routing", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "routing", brand_id)


@router.post("/routing/teams/{team_id}", response_class=HTMLResponse)
def team_strategy(
    request: Request,
    team_id: int,
    ctx: Ctx,
    db: DB,
    strategy: Annotated[str, Form()],
    auto_assign: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Choose how a team's queue is assigned (round-robin, least-loaded, skills, manual)."""
    _need(ctx, "routing")
    team = db.get(Team, team_id)
    if team is None or not ctx.principal.can_access_brand(team.brand_id):
        raise Forbidden("No access to that team.")
    try:
        routing_service.set_team_routing(db, team_id, ctx.principal, strategy=strategy, auto_assign=bool(auto_assign))
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "routing", team.brand_id, exc.detail)
    return _redisplay(request, ctx, db, "routing", team.brand_id)


@router.post("/brands", response_class=HTMLResponse)
def create_brand(
    request: Request,
    ctx: Ctx,
    db: DB,
    slug: Annotated[str, Form(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    default_locale: Annotated[str, Form(pattern=r"^(zh-TW|zh-CN|en)$")] = "zh-TW",
    timezone: Annotated[str, Form(max_length=64)] = "Asia/Taipei",
    ticket_prefix: Annotated[str, Form(pattern=r"^[A-Z][A-Z0-9]{0,7}$")] = "KF",
) -> HTMLResponse:
    """Add a brand (with the default three membership tiers)."""
    _need(ctx, "brands")
    try:
        brand_service.create_brand(
            db,
            slug=slug,
            name=name,
            default_locale=default_locale,
            timezone=timezone,
            ticket_prefix=ticket_prefix,
            actor=ctx.principal,
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "brands", None, exc.detail)
    return _redisplay(request, ctx, db, "brands", None)


@router.post("/brands/{brand_id}", response_class=HTMLResponse)
def update_brand(
    request: Request,
    brand_id: int,
    ctx: Ctx,
    db: DB,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    default_locale: Annotated[str, Form(pattern=r"^(zh-TW|zh-CN|en)$")],
    timezone: Annotated[str, Form(max_length=64)],
    tiers: Annotated[str, Form(max_length=5000)],
    sla_tier: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Rename a brand, change its locale/timezone or its membership tiers (JSON list of {level, name, min_spend})."""
    _need(ctx, "brands")
    brand = brand_service.get_brand(db, brand_id, ctx.principal)
    try:
        try:
            tier_list = json.loads(tiers)
        except ValueError as exc:
            raise InvalidInput(f"Invalid JSON: {exc}") from exc
        if not isinstance(tier_list, list) or not all(isinstance(t, dict) for t in tier_list):
            raise InvalidInput("Tiers must be a JSON list of objects.")
        brand_service.update_brand(
            db,
            brand,
            ctx.principal,
            name=name,
            default_locale=default_locale,
            timezone=timezone,
            tiers=tier_list,
            settings={"sla_tier": sla_tier} if sla_tier else None,
        )
    except (ProblemError, KeyError, TypeError) as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "brands", brand_id, _problem_text(exc))
    return _redisplay(request, ctx, db, "brands", brand_id)


def _problem_text(exc: Exception) -> str:
    if isinstance(exc, ProblemError):
        return exc.detail
    return str(exc).splitlines()[0] if str(exc) else "Invalid input."


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post("/kb", response_class=HTMLResponse)
def create_faq(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    locale: Annotated[str, Form(pattern=r"^(zh-TW|zh-CN|en)$")],
    questions: Annotated[str, Form(max_length=10_000)],
    answer: Annotated[str, Form(min_length=1, max_length=20_000)],
    category: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Add an FAQ (one question variant per line)."""
    _need(ctx, "kb")
    try:
        kb_service.create_faq(
            db,
            ctx.principal,
            brand_id=brand_id,
            locale=locale,
            questions=_lines(questions),
            answer=answer,
            category=category or None,
            intent=None,
            is_published=True,
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "kb", brand_id, exc.detail, locale)
    return _redisplay(request, ctx, db, "kb", brand_id, locale=locale)


@router.post("/kb/{faq_id:int}", response_class=HTMLResponse)
def update_faq(
    request: Request,
    faq_id: int,
    ctx: Ctx,
    db: DB,
    questions: Annotated[str, Form(max_length=10_000)],
    answer: Annotated[str, Form(min_length=1, max_length=20_000)],
    published: Annotated[str, Form()] = "",
    delete: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Edit or delete an FAQ; the bot retrains in the background on kb.changed."""
    _need(ctx, "kb")
    faq = kb_service.get_faq(db, faq_id, ctx.principal)
    brand_id, locale = faq.brand_id, faq.locale
    try:
        if delete:
            kb_service.delete_faq(db, faq, ctx.principal)
        else:
            kb_service.update_faq(
                db,
                faq,
                ctx.principal,
                {"questions": _lines(questions), "answer": answer, "is_published": bool(published)},
            )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "kb", brand_id, exc.detail, locale)
    return _redisplay(request, ctx, db, "kb", brand_id, locale=locale)


@router.post("/canned", response_class=HTMLResponse)
def create_canned(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    locale: Annotated[str, Form(pattern=r"^(zh-TW|zh-CN|en)$")],
    shortcut: Annotated[str, Form(pattern=r"^[\w-]{1,64}$")],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    body: Annotated[str, Form(min_length=1, max_length=20_000)],
) -> HTMLResponse:
    """Add a canned response."""
    _need(ctx, "canned")
    try:
        macros.create(db, ctx.principal, brand_id=brand_id, locale=locale, shortcut=shortcut, title=title, body=body)
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "canned", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "canned", brand_id)


@router.post("/follow-up-rules", response_class=HTMLResponse)
def create_follow_up_rule(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    category: Annotated[str, Form(max_length=64)] = "",
    priority: Annotated[str, Form(max_length=16)] = "",
    attempts: Annotated[int, Form(ge=1, le=10)] = 1,
    within_days: Annotated[int, Form(ge=1, le=90)] = 7,
    first_after_hours: Annotated[int, Form(ge=0, le=2160)] = 24,
    stop_when_reached: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Add a follow-up rule (回訪): which resolved cases get how many contacts within how many days."""
    _need(ctx, "followups")
    if priority and priority not in ("low", "normal", "high", "urgent"):
        return _redisplay(request, ctx, db, "followups", brand_id, f"Unknown priority {priority!r}.")
    try:
        followups.create_rule(
            db,
            ctx.principal,
            brand_id,
            name=name,
            category=category.strip() or None,
            priority=priority or None,
            attempts=attempts,
            within_days=within_days,
            first_after_hours=first_after_hours,
            stop_when_reached=bool(stop_when_reached),
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "followups", brand_id, exc.detail)
    return _redisplay(request, ctx, db, "followups", brand_id)


@router.post("/follow-up-rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_follow_up_rule(request: Request, rule_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Remove a follow-up rule (planned follow-ups stay)."""
    _need(ctx, "followups")
    rule = followups.get_rule(db, rule_id, ctx.principal)
    brand_id = rule.brand_id
    followups.delete_rule(db, rule, ctx.principal)
    return _redisplay(request, ctx, db, "followups", brand_id)
