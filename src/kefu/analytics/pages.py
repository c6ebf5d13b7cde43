"""Analytics console pages: the dashboard (inline SVG charts, alerts) and printable reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from kefu.analytics import alerts as alerts_service
from kefu.analytics import brand_reports, charts, org_reports, reports, service
from kefu.analytics.metrics import METRICS, RESOLUTION_BUCKETS
from kefu.analytics.models import ORG_REPORT_LOCALES, ORG_REPORT_PERIODS
from kefu.auth.deps import DB
from kefu.brands.service import get_brand, visible_brands
from kefu.core.commands import build
from kefu.core.errors import Conflict, Forbidden, InvalidInput, ProblemError
from kefu.core.l10n import format_day, format_ratio
from kefu.customers import service as customers
from kefu.customers.models import Organization
from kefu.web.errors import form_error
from kefu.web.forms import PostedForm, lenient_int
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/analytics")


def _need(ctx: PageContext) -> None:
    if not ctx.principal.can("reports:read"):
        raise Forbidden.said("err_auth_missing_permission", permission="reports:read")


def _date(v: str | None) -> date | None:
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError as exc:
        raise InvalidInput.said("err_analytics_bad_date", value=v) from exc


def _period(start: str | None, end: str | None, tz: str, today: date) -> tuple[date, date, datetime, datetime]:
    """Inclusive local dates (default: the last 30 days including today) and the UTC [start, end) they cover."""
    last = _date(end) or today
    first = _date(start) or last - timedelta(days=29)
    if first > last:
        first, last = last, first
    zone = ZoneInfo(tz)
    s = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    e = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC) + timedelta(days=1)
    return first, last, s, e


def _int(v: str | None) -> int | None:
    return lenient_int(v)


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Supervisor dashboard: KPIs with definitions, SVG charts, alerts; filters by period, brand, organization."""
    _need(ctx)
    q = request.query_params
    brands = visible_brands(db, ctx.principal)
    brand_id = _int(q.get("brand_id"))
    brand = next((b for b in brands if b.id == brand_id), None)
    tz = brand.timezone if brand else (brands[0].timezone if brands else "Asia/Taipei")
    today = datetime.now(ZoneInfo(tz)).date()
    first, last, start, end = _period(q.get("start"), q.get("end"), tz, today)
    f = service.resolve_filters(
        db,
        ctx.principal,
        start=start,
        end=end,
        brand_id=brand.id if brand else None,
        organization_id=_int(q.get("organization_id")),
    )
    d = service.dashboard(db, f)
    loc = ctx.locale
    offset = (datetime.now(ZoneInfo(tz)).utcoffset() or timedelta()).total_seconds() / 3600
    daily = service.daily_volume(db, f, offset)
    every = max(1, len(daily) // 10)
    bucket_labels = [reports.bucket_label(k, loc) for k, _ in RESOLUTION_BUCKETS]

    def goal(rate: float) -> str:
        return str(ctx.t["an_gauge_target"]).format(value=format_ratio(rate, loc, 1))

    chart = {
        "daily": charts.columns(
            [(format_day(d0, loc, year=False), n) for d0, n in daily], ctx.t["an_daily_volume"], label_every=every
        ),
        "channels": charts.hbar(
            [(ctx.t.get(f"ch_{ch}", ch), n) for ch, n in d["volume_by_channel"]["by_channel"].items()],
            ctx.t["an_channel_mix"],
        ),
        "resolution": charts.columns(
            list(zip(bucket_labels, [d["resolution_time"]["buckets"][k] for k, _ in RESOLUTION_BUCKETS], strict=True)),
            METRICS["resolution_time"].label(loc),
        ),
        "issues": charts.hbar(
            [(reports.issue_label(r, loc), r["count"]) for r in d["top_issues"]],
            METRICS["top_issues"].label(loc),
        ),
        "csat": charts.columns(
            [(f"{k}★", d["csat"]["distribution"][k]) for k in ("1", "2", "3", "4", "5")], ctx.t["an_csat_dist"]
        ),
        "fcr": charts.gauge(d["fcr"]["rate"], METRICS["fcr"].label(loc), target=0.937, target_title=goal(0.937)),
        "sla": charts.gauge(d["sla_compliance"]["rate"], METRICS["sla_compliance"].label(loc)),
        "bot": charts.gauge(d["bot_containment"]["rate"], METRICS["bot_containment"].label(loc)),
        "qa": charts.gauge(
            d["qa_correctness"]["rate"], METRICS["qa_correctness"].label(loc), target=0.994, target_title=goal(0.994)
        ),
    }
    checks: list[dict[str, Any]] = []
    for b in brands:
        if b.id in f.brand_ids:
            for c in alerts_service.evaluate(db, b):
                if c.firing:
                    checks.append({"brand": b.name, "kind": c.kind, "message": c.message(loc)})
    raised = alerts_service.open_alerts(db, f.brand_ids)
    orgs = service.organizations(db, f)
    query = {k: v for k, v in q.items() if k in ("start", "end", "brand_id", "organization_id") and v}
    return render(
        request,
        ctx,
        "analytics/dashboard.html",
        d=d,
        chart=chart,
        metrics=METRICS,
        brands=brands,
        brand=brand,
        orgs=orgs,
        org_id=f.organization_id,
        first=first.isoformat(),
        last=last.isoformat(),
        checks=checks,
        raised=raised,
        fmt=reports.fmt,
        query=query,
        tz=tz,
    )


@router.get("/reports/{kind}", response_class=HTMLResponse)
def report_page(request: Request, kind: str, ctx: Ctx, db: DB) -> HTMLResponse:
    """The weekly report / monthly white paper in the console (links to CSV and PDF)."""
    _need(ctx)
    if kind not in reports.KINDS:
        raise InvalidInput.said("err_analytics_unknown_report")
    q = request.query_params
    brand_id = _int(q.get("brand_id"))
    brand = get_brand(db, brand_id, ctx.principal) if brand_id else None
    tz = brand.timezone if brand else "Asia/Taipei"
    if q.get("start") or q.get("end"):
        _, _, start, end = _period(q.get("start"), q.get("end"), tz, datetime.now(ZoneInfo(tz)).date())
    else:
        start, end = reports.period_for(kind, datetime.now(UTC), tz)
    f = service.resolve_filters(
        db, ctx.principal, start=start, end=end, brand_id=brand_id, organization_id=_int(q.get("organization_id"))
    )
    rep = reports.build(db, f, kind, ctx.locale)
    params = {"start": start.isoformat(), "end": end.isoformat(), "lang": ctx.locale}
    if brand_id:
        params["brand_id"] = str(brand_id)
    if f.organization_id:
        params["organization_id"] = str(f.organization_id)
    mailed, silent = brand_reports.console_list(db, list(f.brand_ids), kind)
    for row in mailed:
        row["qs"] = urlencode(row.pop("query") | {"lang": ctx.locale})
    return render(
        request,
        ctx,
        "analytics/report_page.html",
        rep=rep,
        kind=kind,
        qs=urlencode(params),
        mailed=mailed,
        silent=silent,
    )


# --------------------------------------------------------------------------- organization reports


def _need_orgs(ctx: PageContext, perm: str = "customers:read") -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


@router.get("/organizations", response_class=HTMLResponse)
def org_reports_page(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Every visible organization with its report settings (period, language, on/off)."""
    _need_orgs(ctx)
    return render(request, ctx, "analytics/org_reports.html", rows=org_reports.overview(db, ctx.principal))


def _org_page(request: Request, ctx: PageContext, db: DB, org: Organization, notice: str = "") -> HTMLResponse:
    return render(
        request,
        ctx,
        "analytics/org_report_settings.html",
        org=org,
        s=org_reports.get_settings(db, org),
        reports=org_reports.reports_of(db, org),
        periods=ORG_REPORT_PERIODS,
        locales=ORG_REPORT_LOCALES,
        can_write=ctx.principal.can("customers:write"),
        notice=notice,
    )


@router.get("/organizations/{org_id}", response_class=HTMLResponse)
def org_report_page(
    request: Request, org_id: int, ctx: Ctx, db: DB, saved: bool = False, queued: bool = False
) -> HTMLResponse:
    """One organization's report settings form, past reports (downloads) and send-now."""
    _need_orgs(ctx)
    org = customers.get_organization(db, org_id, ctx.principal)
    notice = ctx.t["orgrep_queued"] if queued else ctx.t["orgrep_saved"] if saved else ""
    return _org_page(request, ctx, db, org, notice)


@router.post("/organizations/{org_id}/report-settings", response_model=None)
def save_org_report_settings(request: Request, org_id: int, ctx: Ctx, db: DB, form: PostedForm) -> Response:
    """Save the settings form."""
    _need_orgs(ctx, "customers:write")
    org = customers.get_organization(db, org_id, ctx.principal)
    data = {
        "enabled": form.get("enabled") == "on",
        "period": str(form.get("period", "monthly")),
        "locale": str(form.get("locale", "zh-TW")),
        "recipients": org_reports.parse_recipients(str(form.get("recipients", ""))[:6600]),
    }
    try:
        org_reports.save_settings(db, org, ctx.principal, build(org_reports.ReportSettingsIn, data))
    except ProblemError as exc:
        return form_error(request, exc.status, error_text(request, exc), exc)
    return Response(status_code=204, headers={"HX-Redirect": f"/console/analytics/organizations/{org.id}?saved=true"})


@router.post("/organizations/{org_id}/send-now", response_model=None)
def send_org_report_now(request: Request, org_id: int, ctx: Ctx, db: DB) -> Response:
    """Send the last full period's report now (refused when that period was already sent)."""
    _need_orgs(ctx, "customers:write")
    org = customers.get_organization(db, org_id, ctx.principal)
    key = org_reports.last_period_of(db, org)
    try:
        if org_reports.send(db, org, key, ctx.principal) is None:
            raise Conflict.said("err_analytics_report_sent", period=key)
    except ProblemError as exc:
        return form_error(request, exc.status, error_text(request, exc), exc)
    return Response(status_code=204, headers={"HX-Redirect": f"/console/analytics/organizations/{org.id}?queued=true"})
