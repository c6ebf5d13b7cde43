"""Admin console pages (server-rendered forms + HTMX) over the same services as the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kefu.admin import forms as f
from kefu.analytics import brand_reports
from kefu.auth import labels as team_labels
from kefu.auth import service as auth_service
from kefu.auth.deps import DB
from kefu.auth.models import ROLES
from kefu.bot import service as bot_service
from kefu.brands import service as brand_service
from kefu.brands import theme as brand_theme
from kefu.brands.commands import UpdateBrand
from kefu.brands.models import CHANNEL_KINDS, Brand
from kefu.complaints import service as complaint_service
from kefu.complaints.models import COMPLAINT_LEVELS
from kefu.core.addresses import is_email
from kefu.core.commands import build
from kefu.core.errors import Conflict, Forbidden, InvalidInput, ProblemError
from kefu.followups import service as followups
from kefu.followups.commands import CreateFollowUpRule
from kefu.knowledge import service as kb_service
from kefu.knowledge.commands import CreateFaq, UpdateFaq
from kefu.knowledge.models import LOCALES
from kefu.macros import service as macros
from kefu.macros.commands import CreateCanned
from kefu.portal.service import VIDEO_MAX_MB
from kefu.routing import labels as routing_labels
from kefu.routing import service as routing_service
from kefu.routing.commands import CreateRoutingRule, UpdateRoutingRule
from kefu.routing.models import STRATEGIES
from kefu.sla import service as sla_service
from kefu.sla.calendar import DEFAULT_CALENDAR_CONFIGS, WEEKDAYS, CalendarConfig, available_holiday_sets
from kefu.sla.policy import DEFAULT_SERVICE_TIER, SERVICE_TIERS, SlaPolicy
from kefu.tickets import service as ticket_service
from kefu.tickets.models import PRIORITIES
from kefu.web.forms import PostedForm, lenient_int, optional_int
from kefu.web.i18n import error_text, translator
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/admin")
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
        raise Forbidden.said("err_auth_missing_permission", permission=TABS[tab])


def _brands(db: Session, ctx: PageContext) -> list[Brand]:
    return brand_service.visible_brands(db, ctx.principal)


KB_PAGE = 50


COMPLAINT_DAY_LIMITS = complaint_service.DAY_LIMITS


def _tier_rows(locale: str) -> Callable[[Sequence[Mapping[str, Any]]], list[dict[str, str]]]:
    """The brand form's tier rows with seed tier names in the reader's locale (saved back, they stay seed names)."""

    def rows(tiers: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
        named = [{**x, "name": brand_service.tier_label(int(x["level"]), str(x["name"]), locale)} for x in tiers]
        return f.tier_rows(named)

    return rows


def _category_names(db: Session, ctx: PageContext, brand: Brand) -> dict[str, str]:
    """The brand's ticket categories by key, named in the reader's locale."""
    categories = ticket_service.list_categories(db, brand.id, ctx.principal)
    return {c.key: ticket_service.category_label(c.key, c.label_zh, c.label_en, ctx.locale) for c in categories}


def _condition_choices(
    db: Session, ctx: PageContext, brand: Brand, *, sla: bool = False
) -> dict[str, list[tuple[str, str]]]:
    """Each SLA/routing condition's known values with their labels in the reader's locale (keys stay the values).

    `tier` is the brand's service tier for SLA policies (kefu.sla.runtime) and the customer's membership tier for
    routing rules."""
    t, locale = ctx.t, ctx.locale
    if sla:
        tiers = [(k, t.get("tier_" + k, k)) for k in SERVICE_TIERS]
    else:
        tiers = [
            (str(x["level"]), brand_service.tier_label(int(x["level"]), str(x["name"]), locale)) for x in brand.tiers
        ]
    return {
        "category": list(_category_names(db, ctx, brand).items()),
        "priority": [(p, t["p_" + p]) for p in PRIORITIES],
        "tier": tiers,
        "channel": [(k, t.get("ch_" + k, k)) for k in CHANNEL_KINDS],
        "complaint_level": [(lv, t["lvl_" + lv]) for lv in COMPLAINT_LEVELS],
        "language": [(lc, t.get("lang_" + lc, lc)) for lc in (*LOCALES, "zh")],
    }


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
        data["service_tiers"], data["default_tier"] = SERVICE_TIERS, DEFAULT_SERVICE_TIER
        data["tier_rows"], data["posted_tier_rows"] = _tier_rows(ctx.locale), f.posted_tier_rows
    if tab == "agents":
        data["agents"] = auth_service.all_agents(db)
        data["roles"] = ROLES
        data["agent_brands"] = auth_service.agent_brand_pairs(db)
    elif tab == "teams" and brand:
        teams = auth_service.brand_teams(db, brand.id)
        members = auth_service.team_member_ids(db, [t.id for t in teams])
        data.update(teams=teams, members=members, agents=auth_service.active_agents(db))
    elif tab == "inboxes" and brand:
        data.update(
            inboxes=brand_service.brand_inboxes(db, brand.id),
            kinds=CHANNEL_KINDS,
            fields=brand_service.INBOX_FIELDS,
        )
    elif tab == "sla" and brand:
        year = datetime.now(UTC).astimezone(ZoneInfo(brand.timezone)).year
        calendars = sla_service.list_calendars(db, brand.id)
        data.update(
            policies=sla_service.list_policies(db, brand.id),
            calendars=calendars,
            calendar_names=sorted({c.name for c in calendars} | set(DEFAULT_CALENDAR_CONFIGS)),
            holiday_sets=available_holiday_sets(),
            target_kinds=f.SLA_TARGET_KINDS,
            units=f.SLA_UNITS,
            sla_conditions=f.SLA_CONDITIONS,
            priorities=PRIORITIES,
            weekdays=WEEKDAYS,
            policy_fields=f.policy_fields,
            policy_problem=sla_service.policy_problem,
            calendar_fields=f.calendar_fields,
            year=year,
            year_views={c.id: f.year_view(c.config, year) for c in calendars},
            brand_teams=auth_service.brand_teams(db, brand.id),
            cond_choices=_condition_choices(db, ctx, brand, sla=True),
        )
    elif tab == "routing" and brand:
        teams = auth_service.brand_teams(db, brand.id)
        data.update(
            rules=routing_service.brand_rules(db, brand.id),
            teams=teams,
            team_configs=routing_service.team_configs(db, brand.id),
            strategies=STRATEGIES,
            rule_fields=f.rule_fields,
            priorities=PRIORITIES,
            kinds=CHANNEL_KINDS,
            cond_choices=_condition_choices(db, ctx, brand),
            rule_title=routing_labels.rule_title,
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
        data["kb_coverage"] = kb_service.locale_coverage(db, brand.id, data["faqs"])
        data["category_names"] = _category_names(db, ctx, brand)
        data["articles"] = kb_service.list_articles(
            db, ctx.principal, brand_id=brand.id, locale=data["kb_locale"], published_only=False
        )
    elif tab == "canned" and brand:
        data["canned"] = macros.search(db, ctx.principal, brand_id=brand.id, locale=None, q=None, limit=500)
    elif tab == "followups" and brand:
        data["fu_rules"] = followups.list_rules(db, ctx.principal, brand.id)
        data["cond_choices"] = _condition_choices(db, ctx, brand)
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
        raise Forbidden.said("err_admin_no_admin_permission")
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
    *,
    form_id: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The tab again; after a failed save the submitted form keeps what was typed and shows its field errors."""
    failed = bool(error or errors)
    if failed and form_id and not errors:
        errors = {"_form": error or ""}
        error = None
    return render(
        request,
        ctx,
        "admin/admin.html",
        status=422 if failed else 200,
        error=error,
        form_id=form_id if failed or extra else None,
        values=values or {},
        errors=errors or {},
        saved=not failed and not extra and request.method == "POST",
        **_tab_data(db, ctx, tab, brand_id, locale),
        **(extra or {}),
    )


def _posted(form: FormData) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The posted form as text values (first value per name) and as lists (for checkbox groups)."""
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    lists = {k: [str(v) for v in form.getlist(k) if isinstance(v, str)] for k in form}
    return values, lists


def _service_error(ctx: PageContext, exc: Exception) -> str:
    """A service refusal in the reader's language, with the service's own detail."""
    if isinstance(exc, ValidationError):
        detail = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()[:3])
    elif isinstance(exc, ProblemError):
        detail = error_text(ctx, exc)
    else:
        detail = (str(exc).splitlines() or [""])[0]
    return translator(ctx.locale)["af_cannot_save"].format(detail=detail or "?")


@router.post("/agents", response_class=HTMLResponse)
def create_agent(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Create an agent; a taken email or short password is shown next to its field."""
    _need(ctx, "agents")
    t = translator(ctx.locale)
    values, lists = _posted(form)
    errors: dict[str, str] = {}
    email, name, role, password = (f.text(values, k) for k in ("email", "name", "role", "password"))
    if not is_email(email):
        errors["email"] = t["ae_email"]
    if not name:
        errors["name"] = t["ae_required"]
    if role not in ROLES:
        errors["role"] = t["ae_choice"]
    if len(password) < 10:
        errors["password"] = t["ae_password"]
    values.pop("password", None)  # never echoed back into the page
    if not errors:
        brand_ids = [int(b) for b in lists.get("brand_ids", []) if b.isascii() and b.isdigit()]
        try:
            auth_service.create_agent(
                db, email=email, name=name[:200], password=password, role=role, brand_ids=brand_ids, actor=ctx.principal
            )
        except Conflict:
            db.rollback()
            errors["email"] = t["ae_email_taken"]
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "agents", None, form_id="new-agent", values=values, errors=errors)
    return _redisplay(request, ctx, db, "agents", None)


@router.post("/agents/{agent_id}", response_class=HTMLResponse)
def update_agent(
    request: Request,
    agent_id: int,
    ctx: Ctx,
    db: DB,
    role: Annotated[str, Form(max_length=32)],
    active: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Change an agent's role or deactivate them (revokes their sessions)."""
    _need(ctx, "agents")
    t = translator(ctx.locale)
    agent = auth_service.get_agent(db, agent_id)
    fid = f"agent-{agent_id}"
    values = {"role": role, "active": active}
    if role not in ROLES:
        return _redisplay(request, ctx, db, "agents", None, form_id=fid, values=values, errors={"role": t["ae_choice"]})
    if agent.id == ctx.agent.id and (role != agent.role or not active):
        return _redisplay(request, ctx, db, "agents", None, form_id=fid, values=values, errors={"role": t["ae_self"]})
    auth_service.update_agent(db, agent, actor=ctx.principal, role=role, is_active=bool(active))
    return _redisplay(request, ctx, db, "agents", None)


@router.post("/teams", response_class=HTMLResponse)
def create_team(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    slug: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Create a team; a code like "VIP 團隊" is refused next to the field, not with a bare 422."""
    _need(ctx, "teams")
    t = translator(ctx.locale)
    values = {"slug": slug, "name": name}
    errors: dict[str, str] = {}
    if not f.SLUG.fullmatch(slug.strip()):
        errors["slug"] = t["ae_slug"]
    if not name.strip():
        errors["name"] = t["ae_required"]
    if not errors:
        try:
            brand_service.get_brand(db, brand_id, ctx.principal)
            auth_service.create_team(
                db, brand_id=brand_id, slug=slug.strip(), name=name.strip(), description="", actor=ctx.principal
            )
        except Conflict:
            db.rollback()
            errors["slug"] = t["ae_taken"]
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "teams", brand_id, form_id="new-team", values=values, errors=errors)
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
    team = auth_service.team_in_brands(db, team_id, ctx.principal)
    if team is None:
        raise Forbidden.said("err_admin_no_team_access")
    auth_service.set_team_members(db, team, [(a, False) for a in agent_ids or []], ctx.principal)
    return _redisplay(request, ctx, db, "teams", team.brand_id)


@router.post("/inboxes", response_class=HTMLResponse)
def create_inbox(
    request: Request,
    ctx: Ctx,
    db: DB,
    brand_id: Annotated[int, Form()],
    kind: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Add a channel inbox to a brand."""
    _need(ctx, "inboxes")
    t = translator(ctx.locale)
    values = {"kind": kind, "name": name}
    errors: dict[str, str] = {}
    if kind not in CHANNEL_KINDS:
        errors["kind"] = t["ae_choice"]
    if not name.strip():
        errors["name"] = t["ae_required"]
    if not errors:
        try:
            brand = brand_service.get_brand(db, brand_id, ctx.principal)
            brand_service.create_inbox(db, brand, kind=kind, name=name.strip(), config={}, actor=ctx.principal)
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "inboxes", brand_id, form_id="new-inbox", values=values, errors=errors)
    return _redisplay(request, ctx, db, "inboxes", brand_id)


@router.post("/inboxes/{inbox_id}", response_class=HTMLResponse)
def update_inbox(request: Request, inbox_id: int, ctx: Ctx, db: DB, posted: PostedForm) -> HTMLResponse:
    """Save an inbox's channel settings; blank secret fields keep the stored secret."""
    _need(ctx, "inboxes")
    inbox = brand_service.inbox_in_brands(db, inbox_id, ctx.principal)
    if inbox is None:
        raise Forbidden.said("err_admin_no_inbox_access")
    t = translator(ctx.locale)
    form, _ = _posted(posted)
    errors: dict[str, str] = {}
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
                errors[f"cfg_{key}"] = t["ae_whole"]
            changes[key] = lenient_int(raw)
        elif kind == "status":  # the bot switch: checked = new conversations start with the bot
            changes[key] = "bot" if form.get(f"cfg_{key}") == "bot" else "open"
        elif kind == "greeting":
            changes[key] = {loc: str(form.get(f"cfg_{key}_{loc}", "")).strip() for loc in LOCALES}
        elif kind == "case_policy":
            if raw and raw not in ("first_message", "handoff", "never"):
                errors[f"cfg_{key}"] = t["ae_choice"]
            changes[key] = raw or None
        else:
            changes[key] = raw or None
    values = {k: v for k, v in form.items() if not any(k == f"cfg_{key}" for key, kind in _secrets(inbox.kind))}
    fid = f"inbox-{inbox.id}"
    if not errors:
        name = str(form.get("name", "")).strip() or None
        try:
            brand_service.update_inbox(
                db, inbox, ctx.principal, name=name, is_active=form.get("is_active") == "1", config=changes
            )
        except ProblemError as exc:  # e.g. a URL the SSRF guard refuses: shown on the form, not as a bare error
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "inboxes", inbox.brand_id, form_id=fid, values=values, errors=errors)
    return _redisplay(request, ctx, db, "inboxes", inbox.brand_id)


def _secrets(kind: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in brand_service.INBOX_FIELDS.get(kind, ()) if v == "secret"]


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
        return _redisplay(request, ctx, db, "review", brand_id, _service_error(ctx, exc))
    return _redisplay(request, ctx, db, "review", brand_id)


def _calendar_names(db: Session, brand_id: int) -> list[str]:
    names = {str(c.name) for c in sla_service.list_calendars(db, brand_id)}
    return sorted(names | set(DEFAULT_CALENDAR_CONFIGS))


@router.post("/sla/policies/{policy_id}", response_class=HTMLResponse)
def save_policy(request: Request, policy_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Edit an SLA policy from labelled fields (running tickets keep their snapshot)."""
    _need(ctx, "sla")
    row = sla_service.get_policy(db, policy_id, ctx.principal)
    values, _ = _posted(form)
    parsed = f.parse_policy(
        values,
        translator(ctx.locale),
        row.definition,
        calendars=_calendar_names(db, row.brand_id),
        priorities=[str(p) for p in PRIORITIES],
    )
    if not parsed.errors:
        try:
            policy = SlaPolicy.model_validate({**parsed.value, "name": row.name})
            sla_service.update_policy(db, row, ctx.principal, policy=policy, is_active=bool(values.get("active")))
        except (ProblemError, ValidationError) as exc:
            db.rollback()
            parsed.errors["_form"] = _service_error(ctx, exc)
    if parsed.errors:
        return _redisplay(
            request, ctx, db, "sla", row.brand_id, form_id=f"policy-{row.id}", values=values, errors=parsed.errors
        )
    return _redisplay(request, ctx, db, "sla", row.brand_id)


@router.post("/sla/calendars/{calendar_id}", response_class=HTMLResponse)
def save_calendar_page(request: Request, calendar_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Edit a business calendar: weekly hours, holidays, 補班 make-up workdays, special hours, public holidays."""
    _need(ctx, "sla")
    row = sla_service.get_calendar(db, calendar_id, ctx.principal)
    values, lists = _posted(form)
    parsed = f.parse_calendar(
        values,
        translator(ctx.locale),
        row.config,
        holiday_sets=available_holiday_sets(),
        chosen_sets=lists.get("holiday_sets", []),
    )
    if not parsed.errors:
        try:
            config = CalendarConfig.model_validate(parsed.value)
            sla_service.save_calendar(
                db, brand_id=row.brand_id, config=config, actor=ctx.principal, team_id=row.team_id, row=row
            )
        except (ProblemError, ValidationError) as exc:
            db.rollback()
            parsed.errors["_form"] = _service_error(ctx, exc)
    if parsed.errors:
        values["holiday_sets"] = ",".join(lists.get("holiday_sets", []))
        return _redisplay(
            request, ctx, db, "sla", row.brand_id, form_id=f"calendar-{row.id}", values=values, errors=parsed.errors
        )
    return _redisplay(request, ctx, db, "sla", row.brand_id)


def _rule_actions(values: dict[str, str], t: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    team_id = lenient_int(values.get("team_id"))
    if f.text(values, "team_id") and team_id is None:
        errors["team_id"] = t["ae_choice"]
    set_priority = f.text(values, "set_priority")
    if set_priority and set_priority not in PRIORITIES:
        errors["set_priority"] = t["ae_choice"]
    bump = f.text(values, "priority_bump") or "0"
    if bump not in ("0", "1", "2", "3"):
        errors["priority_bump"] = t["ae_choice"]
    return {"team_id": team_id, "set_priority": set_priority or None, "priority_bump": int(bump) if not errors else 0}


def _posted_brand_id(values: Mapping[str, Any]) -> int:
    """The form's brand_id (a 400 problem when it is missing or not a whole number)."""
    brand_id = lenient_int(values.get("brand_id"))
    if brand_id is None:
        raise InvalidInput.said("err_admin_brand_id_required")
    return brand_id


@router.post("/routing/rules", response_class=HTMLResponse)
def create_rule(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add a routing rule from condition fields (category, channel, priority, language, VIP, tier, tag)."""
    _need(ctx, "routing")
    t = translator(ctx.locale)
    values, _ = _posted(form)
    brand_id = _posted_brand_id(values)
    parsed = f.parse_conditions(values, t, {})
    name = f.text(values, "name")
    if not name:
        parsed.errors["name"] = t["ae_required"]
    actions = _rule_actions(values, t, parsed.errors)
    if not parsed.value and "cond_vip" not in parsed.errors:
        parsed.errors["conditions"] = t["ae_condition"]
    if not parsed.errors:
        try:
            command = build(
                CreateRoutingRule, {"brand_id": brand_id, "name": name[:200], "conditions": parsed.value, **actions}
            )
            routing_service.create_rule(db, command, actor=ctx.principal)
        except ProblemError as exc:
            db.rollback()
            parsed.errors["_form"] = _service_error(ctx, exc)
    if parsed.errors:
        return _redisplay(
            request, ctx, db, "routing", brand_id, form_id="new-rule", values=values, errors=parsed.errors
        )
    return _redisplay(request, ctx, db, "routing", brand_id)


@router.post("/routing/rules/{rule_id}", response_class=HTMLResponse)
def update_rule(request: Request, rule_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Change, reorder or delete a routing rule."""
    _need(ctx, "routing")
    t = translator(ctx.locale)
    rule = routing_service.get_rule(db, rule_id, ctx.principal)
    brand_id = rule.brand_id
    values, _ = _posted(form)
    if values.get("delete"):
        routing_service.delete_rule(db, rule, ctx.principal)
        return _redisplay(request, ctx, db, "routing", brand_id)
    if values.get("move") in ("up", "down"):
        routing_service.move_rule(db, rule, ctx.principal, -1 if values["move"] == "up" else 1)
        return _redisplay(request, ctx, db, "routing", brand_id)
    parsed = f.parse_conditions(values, t, rule.conditions)
    actions = _rule_actions(values, t, parsed.errors)
    if not parsed.value and "cond_vip" not in parsed.errors:
        parsed.errors["conditions"] = t["ae_condition"]
    if not parsed.errors:
        try:
            changes = {"conditions": parsed.value, "is_active": bool(values.get("active")), **actions}
            routing_service.update_rule(db, rule, ctx.principal, build(UpdateRoutingRule, changes))
        except ProblemError as exc:
            db.rollback()
            parsed.errors["_form"] = _service_error(ctx, exc)
    if parsed.errors:
        return _redisplay(
            request, ctx, db, "routing", brand_id, form_id=f"rule-{rule_id}", values=values, errors=parsed.errors
        )
    return _redisplay(request, ctx, db, "routing", brand_id)


@router.post("/routing/dry-run", response_class=HTMLResponse)
def routing_dry_run(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Show which rules a sample ticket would match, the team it would go to and its priority; nothing is saved."""
    _need(ctx, "routing")
    values, _ = _posted(form)
    brand_id = _posted_brand_id(values)
    facts = {
        "category": f.text(values, "category"),
        "channel": f.text(values, "channel"),
        "priority": f.text(values, "priority"),
        "language": f.text(values, "language"),
        "vip": values.get("vip") == "1",
        "tier": f.text(values, "tier"),
        "tags": f.split_values(f.text(values, "tags")),
    }
    decision = routing_service.dry_run(db, brand_id, ctx.principal, facts)
    team = auth_service.team_in_brands(db, decision.team_id, ctx.principal) if decision.team_id else None
    result = {
        "rules": decision.rules,
        "team": team_labels.team_name(team, ctx.locale) or None,
        "priority": decision.priority,
    }
    return _redisplay(
        request, ctx, db, "routing", brand_id, form_id="dry-run", values=values, extra={"dry_result": result}
    )


@router.post("/routing/teams/{team_id}", response_class=HTMLResponse)
def team_strategy(
    request: Request,
    team_id: int,
    ctx: Ctx,
    db: DB,
    strategy: Annotated[str, Form(max_length=32)],
    auto_assign: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Choose how a team's queue is assigned (round-robin, least-loaded, skills, manual)."""
    _need(ctx, "routing")
    team = auth_service.team_in_brands(db, team_id, ctx.principal)
    if team is None:
        raise Forbidden.said("err_admin_no_team_access")
    try:
        routing_service.set_team_routing(db, team_id, ctx.principal, strategy=strategy, auto_assign=bool(auto_assign))
    except ProblemError as exc:
        db.rollback()
        return _redisplay(
            request,
            ctx,
            db,
            "routing",
            team.brand_id,
            form_id=f"strategy-{team_id}",
            values={"strategy": strategy, "auto_assign": auto_assign},
            errors={"strategy": _service_error(ctx, exc)},
        )
    return _redisplay(request, ctx, db, "routing", team.brand_id)


@router.post("/brands/{brand_id}/theme", response_class=HTMLResponse)
def update_theme(request: Request, brand_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Brand appearance: primary/accent colours (#RRGGBB, readable under white text), logo upload or URL, favicon."""
    _need(ctx, "brands")
    t = translator(ctx.locale)
    brand = brand_service.get_brand(db, brand_id, ctx.principal)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    colours: dict[str, str | None] = {}
    for name in ("primary", "accent"):
        raw = f.text(values, name)
        try:
            colours[name] = brand_theme.check_colour(raw) if raw else None
        except InvalidInput as exc:
            ratio = f"{brand_theme.contrast_with_white(raw):.1f}" if exc.extra.get("reason") == "contrast" else ""
            errors[name] = t["bs_low_contrast"].format(ratio=ratio) if ratio else t["bs_bad_hex"]
    logo_url = f.text(values, "logo_url")
    if logo_url:
        try:
            brand_theme.check_url(logo_url)
        except InvalidInput:
            errors["logo_url"] = t["bs_bad_url"]
    uploads: dict[str, bytes] = {}
    for kind, limit in (("logo", brand_theme.LOGO_MAX), ("favicon", brand_theme.FAVICON_MAX)):
        upload = form.get(f"{kind}_file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            continue
        data = upload.file.read(limit + 1)
        try:
            brand_theme.check_asset(kind, data)
            uploads[kind] = data
        except InvalidInput as exc:
            size = exc.extra.get("reason") == "size"
            bad = t["bs_bad_logo"] if kind == "logo" else t["bs_bad_favicon"]
            errors[f"{kind}_file"] = t["bs_logo_too_big"].format(kb=limit // 1024) if size else bad
    if not errors:
        remove = tuple(k for k in brand_theme.ASSET_KINDS if values.get(f"remove_{k}"))
        try:
            brand_theme.save_theme(
                db,
                brand,
                ctx.principal,
                primary=colours["primary"],
                accent=colours["accent"],
                logo_url=logo_url or None,
                uploads=uploads,
                remove=remove,
            )
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    fid = f"theme-{brand_id}"
    if errors:
        return _redisplay(request, ctx, db, "brands", brand_id, form_id=fid, values=values, errors=errors)
    return _redisplay(request, ctx, db, "brands", brand_id)


@router.post("/brands/{brand_id}/report-mail", response_class=HTMLResponse)
def update_report_mail(request: Request, brand_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Weekly report mail: on (default when the brand has an e-mail inbox) or off, and which roles get it."""
    _need(ctx, "brands")
    t = translator(ctx.locale)
    brand = brand_service.get_brand(db, brand_id, ctx.principal)
    raw_on = str(form.get("enabled") or "")
    roles = [str(r) for r in form.getlist("roles")]
    errors: dict[str, str] = {}
    if raw_on not in ("", "1", "0") or any(r not in brand_reports.ROLES for r in roles):
        errors["_form"] = t["ae_choice"]
    if not errors:
        current = brand_reports.settings_of(brand)
        enabled = None if raw_on == "" else raw_on == "1"
        try:
            command = build(
                brand_reports.ReportMailSettings, {"enabled": enabled, "roles": roles, "opt_out": current.opt_out}
            )
            brand_reports.save_settings(db, brand, ctx.principal, command)
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    fid = f"report-mail-{brand_id}"
    if errors:
        return _redisplay(request, ctx, db, "brands", brand_id, form_id=fid, values={}, errors=errors)
    return _redisplay(request, ctx, db, "brands", brand_id)


@router.post("/brands", response_class=HTMLResponse)
def create_brand(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add a brand (with the default three membership tiers)."""
    _need(ctx, "brands")
    t = translator(ctx.locale)
    values, _ = _posted(form)
    errors: dict[str, str] = {}
    slug, name, prefix = f.text(values, "slug"), f.text(values, "name"), f.text(values, "ticket_prefix") or None
    locale = f.text(values, "default_locale") or "zh-TW"
    if not f.SLUG.fullmatch(slug):
        errors["slug"] = t["ae_slug"]
    if not name:
        errors["name"] = t["ae_required"]
    if prefix is not None and not f.PREFIX.fullmatch(prefix):
        errors["ticket_prefix"] = t["ae_prefix"]
    elif prefix is not None and brand_service.prefix_taken(db, prefix):
        errors["ticket_prefix"] = t["ae_taken"]  # another brand numbers with it (numbers are unique install-wide)
    if locale not in LOCALES:
        errors["default_locale"] = t["ae_choice"]
    timezone = f.check_timezone(values, "timezone", t, errors) if values.get("timezone") else "Asia/Taipei"
    if not errors:
        try:
            brand_service.create_brand(
                db,
                slug=slug,
                name=name[:200],
                default_locale=locale,
                timezone=timezone,
                ticket_prefix=prefix,
                actor=ctx.principal,
            )
        except Conflict:
            db.rollback()
            errors["slug"] = t["ae_taken"]
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "brands", None, form_id="new-brand", values=values, errors=errors)
    return _redisplay(request, ctx, db, "brands", None)


@router.post("/brands/{brand_id}", response_class=HTMLResponse)
def update_brand(request: Request, brand_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Rename a brand, change its locale, timezone, service tier or membership tiers (one row per tier)."""
    _need(ctx, "brands")
    t = translator(ctx.locale)
    brand = brand_service.get_brand(db, brand_id, ctx.principal)
    values, _ = _posted(form)
    parsed = f.parse_tiers(values, t)
    name, locale, sla_tier = f.text(values, "name"), f.text(values, "default_locale"), f.text(values, "sla_tier")
    if not name:
        parsed.errors["name"] = t["ae_required"]
    if locale not in LOCALES:
        parsed.errors["default_locale"] = t["ae_choice"]
    if sla_tier and sla_tier not in SERVICE_TIERS:
        parsed.errors["sla_tier"] = t["ae_choice"]
    timezone = f.check_timezone(values, "timezone", t, parsed.errors)
    currency = f.check_currency(values, "currency", t, parsed.errors) if "currency" in values else brand.currency
    video_mb = f.whole(values, "portal_video_mb", t, parsed.errors)
    if video_mb is not None and video_mb > VIDEO_MAX_MB:
        parsed.errors["portal_video_mb"] = t["ae_whole"]
    # The form always shows the checkbox, so an unticked box means "do not publish".
    settings: dict[str, Any] = {"public_metrics": values.get("public_metrics") == "1", "portal_video_mb": video_mb}
    if sla_tier:
        settings["sla_tier"] = sla_tier
    # Video sessions (#17): the meeting-URL template; an empty field turns video sessions off (None removes it).
    template = f.text(values, "video_url_template")
    current = (brand.settings or {}).get("video") or {}
    settings["video"] = {**current, "url_template": template} if template else None
    # Seed promises' numbers a business tunes (empty = the product's default): the daily QA share in percent
    # (#31, 5 %), the progress-update interval in minutes (#4, 30) and the anger level that alerts (#48, 3).
    qa_pct = f.percent(values, "qa_sample_pct", t, parsed.errors)
    settings["qa_sample_rate"] = round(qa_pct / 100, 6) if qa_pct is not None else None
    every = f.whole(values, "progress_every", t, parsed.errors)
    if every is not None and not 5 <= every <= 24 * 60:
        parsed.errors["progress_every"] = t["ae_progress_every"]
    progress = {k: v for k, v in ((brand.settings or {}).get("progress_updates") or {}).items() if k != "every_minutes"}
    settings["progress_updates"] = {**progress, "every_minutes": every} if every is not None else (progress or None)
    for key, (low, high) in COMPLAINT_DAY_LIMITS.items():
        days = f.whole(values, key, t, parsed.errors)
        if days is not None and not low <= days <= high:
            parsed.errors[key] = t["ae_days_between"].format(low=low, high=high)
        settings[key] = days
    anger = f.whole(values, "anger_threshold", t, parsed.errors)
    if anger is not None and anger > 5:
        parsed.errors["anger_threshold"] = t["ae_anger_threshold"]
    bot = {k: v for k, v in ((brand.settings or {}).get("bot") or {}).items() if k != "anger_threshold"}
    settings["bot"] = {**bot, "anger_threshold": anger} if anger is not None else (bot or None)
    if not parsed.errors:
        try:
            command = build(
                UpdateBrand,
                {
                    "name": name[:200],
                    "default_locale": locale,
                    "timezone": timezone,
                    "currency": currency,
                    "tiers": parsed.value["tiers"],
                    "settings": settings,
                },
            )
            brand_service.update_brand(db, brand, ctx.principal, command)
        except ProblemError as exc:
            db.rollback()
            parsed.errors["_form"] = _service_error(ctx, exc)
    if parsed.errors:
        return _redisplay(
            request, ctx, db, "brands", brand_id, form_id=f"brand-{brand_id}", values=values, errors=parsed.errors
        )
    return _redisplay(request, ctx, db, "brands", brand_id)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post("/canned", response_class=HTMLResponse)
def create_canned(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add a canned response."""
    _need(ctx, "canned")
    t = translator(ctx.locale)
    values, _ = _posted(form)
    brand_id = _posted_brand_id(values)
    errors: dict[str, str] = {}
    locale, shortcut = f.text(values, "locale"), f.text(values, "shortcut").lstrip("/")
    title, body = f.text(values, "title"), f.text(values, "body")
    if locale not in LOCALES:
        errors["locale"] = t["ae_choice"]
    if not f.SHORTCUT.fullmatch(shortcut):
        errors["shortcut"] = t["ae_shortcut"]
    if not title:
        errors["title"] = t["ae_required"]
    if not body:
        errors["body"] = t["ae_required"]
    if not errors:
        try:
            macros.create(
                db,
                ctx.principal,
                build(
                    CreateCanned,
                    {
                        "brand_id": brand_id,
                        "locale": locale,
                        "shortcut": shortcut,
                        "title": title[:200],
                        "body": body[:20_000],
                    },
                ),
            )
        except Conflict:
            db.rollback()
            errors["shortcut"] = t["ae_taken"]
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = _service_error(ctx, exc)
    if errors:
        return _redisplay(request, ctx, db, "canned", brand_id, form_id="new-canned", values=values, errors=errors)
    return _redisplay(request, ctx, db, "canned", brand_id)


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
            build(
                CreateFaq,
                {
                    "brand_id": brand_id,
                    "locale": locale,
                    "questions": _lines(questions),
                    "answer": answer,
                    "category": category or None,
                    "intent": None,
                    "is_published": True,
                },
            ),
        )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "kb", brand_id, error_text(ctx, exc), locale)
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
                build(UpdateFaq, {"questions": _lines(questions), "answer": answer, "is_published": bool(published)}),
            )
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "kb", brand_id, error_text(ctx, exc), locale)
    return _redisplay(request, ctx, db, "kb", brand_id, locale=locale)


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
        command = build(
            CreateFollowUpRule,
            {
                "brand_id": brand_id,
                "name": name,
                "category": category.strip() or None,
                "priority": priority or None,
                "attempts": attempts,
                "within_days": within_days,
                "first_after_hours": first_after_hours,
                "stop_when_reached": bool(stop_when_reached),
            },
        )
        followups.create_rule(db, ctx.principal, command)
    except ProblemError as exc:
        db.rollback()
        return _redisplay(request, ctx, db, "followups", brand_id, error_text(ctx, exc))
    return _redisplay(request, ctx, db, "followups", brand_id)


@router.post("/follow-up-rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_follow_up_rule(request: Request, rule_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Remove a follow-up rule (planned follow-ups stay)."""
    _need(ctx, "followups")
    rule = followups.get_rule(db, rule_id, ctx.principal)
    brand_id = rule.brand_id
    followups.delete_rule(db, rule, ctx.principal)
    return _redisplay(request, ctx, db, "followups", brand_id)
