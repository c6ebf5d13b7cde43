"""Analytics API: metric definitions, dashboard numbers, alerts and downloadable reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from kefu.analytics import alerts as alerts_service
from kefu.analytics import reports, service
from kefu.analytics.metrics import METRICS
from kefu.analytics.models import AnalyticsAlert
from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.db import utcnow
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
