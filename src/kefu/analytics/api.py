"""Analytics API: metric definitions, dashboard numbers, alerts and downloadable reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kefu.analytics import alerts as alerts_service
from kefu.analytics import brand_reports, org_reports, reports, service
from kefu.analytics.metrics import METRICS
from kefu.analytics.models import AnalyticsAlert
from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict
from kefu.customers import service as customers
from kefu.web.i18n import pick_locale, translator
from kefu.web.pages import templates
from kefu.web.routing import Router

router = Router(prefix="/api/v1/analytics", tags=["analytics"])
Reader = Annotated[Principal, Depends(require("reports:read"))]


@router.get("/metrics")
def metrics() -> list[dict[str, Any]]:
    """Every metric with its label, written definition and unit."""
    return [m.as_dict() for m in METRICS.values()]


@router.get("/dashboard")
def dashboard(
    db: DB,
    p: Reader,
    start: datetime | None = None,
    end: datetime | None = None,
    brand_id: int | None = None,
    organization_id: int | None = None,
) -> dict[str, Any]:
    """All metrics for a period (default: the last 30 days), brand and organization."""
    f = service.resolve_filters(db, p, start=start, end=end, brand_id=brand_id, organization_id=organization_id)
    return service.dashboard(db, f)


@router.get("/alerts")
def alerts(db: DB, p: Reader, brand_id: int | None = None) -> dict[str, Any]:
    """Live threshold checks and the raised (not yet cleared) alerts."""
    f = service.resolve_filters(db, p, brand_id=brand_id)
    checks = []
    for brand in db.scalars(select(Brand).where(Brand.id.in_(f.brand_ids)).order_by(Brand.id)):
        for c in alerts_service.evaluate(db, brand):
            checks.append(
                {
                    "brand_id": brand.id,
                    "kind": c.kind,
                    "value": c.value,
                    "threshold": c.threshold,
                    "firing": c.firing,
                    "message": c.message(),
                    "message_en": c.message("en"),
                }
            )
    active = db.scalars(
        select(AnalyticsAlert)
        .where(AnalyticsAlert.brand_id.in_(f.brand_ids), AnalyticsAlert.cleared_at.is_(None))
        .order_by(AnalyticsAlert.id)
    )
    return {
        "checks": checks,
        "active": [
            {
                "id": a.id,
                "brand_id": a.brand_id,
                "kind": a.kind,
                "value": a.value,
                "threshold": a.threshold,
                "message": a.message,
                "raised_at": a.raised_at.isoformat(),
            }
            for a in active
        ],
    }


def build_report(
    db: DB,
    p: Principal,
    kind: str,
    start: datetime | None,
    end: datetime | None,
    brand_id: int | None,
    organization_id: int | None,
    locale: str,
) -> reports.Report:
    """Resolve the period (default: last full week / month in the brand's timezone) and build the report."""
    if start is None or end is None:
        tz = "Asia/Taipei"
        if brand_id is not None:
            brand = db.get(Brand, brand_id)
            tz = brand.timezone if brand is not None else tz
        start, end = reports.period_for(kind, utcnow(), tz)
    f = service.resolve_filters(db, p, start=start, end=end, brand_id=brand_id, organization_id=organization_id)
    return reports.build(db, f, kind, locale)


@router.get("/reports/{kind}.{fmt}", response_model=None)
def report(
    request: Request,
    kind: Literal["weekly", "monthly"],
    fmt: Literal["html", "csv", "pdf"],
    db: DB,
    p: Reader,
    start: datetime | None = None,
    end: datetime | None = None,
    brand_id: int | None = None,
    organization_id: int | None = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The weekly service report or monthly white paper as HTML, CSV (UTF-8 with BOM) or PDF."""
    locale = pick_locale(lang, "zh-TW")
    rep = build_report(db, p, kind, start, end, brand_id, organization_id, locale)
    name = f"kefu-{kind}-{rep.start.date().isoformat()}"
    if fmt == "csv":
        return Response(
            reports.to_csv(rep),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "pdf":
        return Response(
            reports.to_pdf(rep),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    html = templates.get_template("analytics/report.html").render(
        request=request, rep=rep, t=translator(locale), locale=locale, standalone=True
    )
    return HTMLResponse(html)


# ------------------------------------------------------------------ organization reports (法人客戶營運成效報表)

org_router = Router(prefix="/api/v1", tags=["organizations"])
routers = (router, org_router)
OrgReader = Annotated[Principal, Depends(require("customers:read"))]
OrgWriter = Annotated[Principal, Depends(require("customers:write"))]


class ReportSettingsOut(BaseModel):
    """An organization's report settings (defaults while never configured)."""

    organization_id: int
    enabled: bool
    period: str
    locale: str
    recipients: list[str]


class OrgReportOut(BaseModel):
    """A report made for one period: to whom, in which language, and its figures (counts and rates only)."""

    id: int
    organization_id: int
    period_key: str
    period: str
    start: datetime
    end: datetime
    locale: str
    recipients: list[str]
    status: str
    created_at: datetime
    data: dict[str, Any]


class SendNowIn(BaseModel):
    """Send (or with `dry_run`, preview) the report of one period; default the last full period."""

    model_config = ConfigDict(extra="forbid")

    period_key: str | None = Field(default=None, max_length=16)
    dry_run: bool = False


def _settings_out(org_id: int, row: Any) -> ReportSettingsOut:
    if row is None:
        return ReportSettingsOut(organization_id=org_id, enabled=False, period="monthly", locale="zh-TW", recipients=[])
    return ReportSettingsOut(
        organization_id=org_id, enabled=row.enabled, period=row.period, locale=row.locale, recipients=row.recipients
    )


def _report_out(r: Any) -> OrgReportOut:
    return OrgReportOut.model_validate(r, from_attributes=True)


@org_router.get("/organizations/{org_id}/report-settings", response_model=ReportSettingsOut)
def get_report_settings(org_id: int, db: DB, p: OrgReader) -> ReportSettingsOut:
    """The organization's periodic report settings."""
    org = customers.get_organization(db, org_id, p)
    return _settings_out(org.id, org_reports.get_settings(db, org))


@org_router.put("/organizations/{org_id}/report-settings", response_model=ReportSettingsOut)
def put_report_settings(org_id: int, body: org_reports.ReportSettingsIn, db: DB, p: OrgWriter) -> ReportSettingsOut:
    """Set period (monthly/quarterly), language, recipients (validated e-mail addresses) and on/off."""
    org = customers.get_organization(db, org_id, p)
    return _settings_out(org.id, org_reports.save_settings(db, org, p, body))


@org_router.get("/organizations/{org_id}/reports", response_model=list[OrgReportOut])
def list_org_reports(org_id: int, db: DB, p: OrgReader) -> list[OrgReportOut]:
    """Reports made for the organization, newest period first."""
    org = customers.get_organization(db, org_id, p)
    return [_report_out(r) for r in org_reports.reports_of(db, org)]


@org_router.post("/organizations/{org_id}/reports/send-now", response_model=None)
def send_org_report_now(org_id: int, body: SendNowIn, db: DB, p: OrgWriter) -> Any:
    """Send a period's report now (409 when that period was already sent); `dry_run` computes it and sends nothing."""
    org = customers.get_organization(db, org_id, p)
    settings = org_reports.get_settings(db, org)
    key = body.period_key or org_reports.last_period_of(db, org)
    org_reports.period_bounds(key)  # 422 for a malformed key
    if body.dry_run:
        locale = settings.locale if settings else "zh-TW"
        data = org_reports.compute(db, org, key)
        return {
            "dry_run": True,
            "period_key": key,
            "locale": locale,
            "recipients": settings.recipients if settings else [],
            "already_sent": org_reports.report_of(db, org, key) is not None,
            "subject": org_reports.title(data, locale),
            "data": data,
            "text": org_reports.to_text(data, locale),
        }
    sent = org_reports.send(db, org, key, p)
    if sent is None:
        raise Conflict.said("err_analytics_report_sent", period=key)
    return _report_out(sent)


@org_router.get("/organizations/{org_id}/reports/{report_id}.{fmt}", response_model=None)
def download_org_report(
    org_id: int, report_id: int, fmt: Literal["html", "csv", "pdf"], db: DB, p: OrgReader
) -> Response:
    """A past report as it was sent: HTML, CSV (UTF-8 with BOM) or PDF."""
    org = customers.get_organization(db, org_id, p)
    r = org_reports.get_report(db, org, report_id)
    data = org_reports.stored_data(r)
    name = f"org-report-{org.id}-{r.period_key}"
    if fmt == "csv":
        return Response(
            org_reports.to_csv(data, r.locale),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "pdf":
        return Response(
            org_reports.to_pdf(data, r.locale),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return HTMLResponse(org_reports.to_html(data, r.locale))


# ------------------------------------------------------------------ brand report mail (週度服務報告, every week)

BrandManager = Annotated[Principal, Depends(require("brands:manage"))]


class ReportMailOut(BaseModel):
    """A brand's report mail settings, whether it has a mail route, and who would get the next report."""

    brand_id: int
    enabled: bool | None
    roles: list[str]
    opt_out: list[int]
    mail_route: bool
    sending: bool
    recipients: int


class BrandReportOut(BaseModel):
    """A report mailed for one period."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    period_key: str
    start: datetime
    end: datetime
    created_at: datetime
    recipients: list[int]


def _mail_out(db: Any, brand: Brand) -> ReportMailOut:
    cfg = brand_reports.settings_of(brand)
    route = brand_reports.mail_route(db, brand.id)
    return ReportMailOut(
        brand_id=brand.id,
        enabled=cfg.enabled,
        roles=list(cfg.roles),
        opt_out=list(cfg.opt_out),
        mail_route=route is not None,
        sending=brand_reports.is_enabled(cfg, route),
        recipients=len(brand_reports.recipients(db, brand.id, cfg)),
    )


@org_router.get("/brands/{brand_id}/report-mail", response_model=ReportMailOut)
def get_report_mail(brand_id: int, db: DB, p: Reader) -> ReportMailOut:
    """The brand's weekly report / monthly white paper mail settings (defaults while never set)."""
    return _mail_out(db, get_brand(db, brand_id, p))


@org_router.put("/brands/{brand_id}/report-mail", response_model=ReportMailOut)
def put_report_mail(brand_id: int, body: brand_reports.ReportMailSettings, db: DB, p: BrandManager) -> ReportMailOut:
    """Turn the brand's report mail on or off and choose who gets it (leads, supervisors, admins; opt-outs)."""
    brand = get_brand(db, brand_id, p)
    brand_reports.save_settings(db, brand, p, body)
    return _mail_out(db, brand)


@org_router.get("/brands/{brand_id}/mailed-reports", response_model=list[BrandReportOut])
def list_mailed_reports(brand_id: int, db: DB, p: Reader, kind: Literal["weekly", "monthly"] = "weekly") -> Any:
    """The reports mailed for the brand, newest first."""
    brand = get_brand(db, brand_id, p)
    return brand_reports.reports_of(db, [brand.id], kind)
