"""Console page for leads: the quarter's improvement plan, overdue items, attribution, KPIs and audit samples.

Every action posts with HTMX and gets the page body back; a refused action (closing without a verification note,
an unknown case in the findings) shows inline above the sections.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from kefu.auth.deps import DB
from kefu.brands.models import Brand
from kefu.brands.service import visible_brands
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, NotFound, ProblemError
from kefu.quality import service
from kefu.quality.commands import (
    AttributeFeedback,
    ChangeItemStatus,
    CreatePlanItem,
    CreateSample,
    DraftPlan,
    ImportFindings,
    UpdatePlanItem,
    build,
)
from kefu.quality.models import FeedbackSource, ItemStatus
from kefu.web.forms import PostedForm, lenient_int, optional_int
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/quality")


def _need(ctx: PageContext, perm: str = "reports:read") -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


def _pick(ctx: PageContext, db: DB, brand_id: int | None) -> tuple[list[Brand], Brand]:
    brands = visible_brands(db, ctx.principal)
    if not brands:
        raise NotFound.said("err_quality_no_brand")
    brand = next((b for b in brands if b.id == brand_id), None) if brand_id else brands[0]
    if brand is None:
        raise NotFound.said("err_quality_brand_not_found")
    return brands, brand


def _quarter(brand: Brand, value: object) -> str:
    text = str(value or "").strip().upper()
    try:
        return service.quarter(text, brand.timezone).label
    except ProblemError:
        return service.quarter_of(utcnow(), brand.timezone)


def _body(ctx: PageContext, db: DB, brand_id: int | None, quarter: object, **extra: Any) -> dict[str, Any]:
    brands, brand = _pick(ctx, db, brand_id)
    label = _quarter(brand, quarter)
    report = service.quarter_report(db, ctx.principal, brand.id, label)
    causes = service.causes(db, ctx.principal, brand.id)
    overdue = service.overdue_items(db, ctx.principal, brand_id=brand.id)
    samples = service.list_samples(db, ctx.principal, brand.id, label)
    owners = service.owners(db, brand.id)
    return dict(
        brands=brands,
        brand=brand,
        quarter=label,
        report=report,
        today=service.brand_today(brand),
        causes=[c for c in causes if c.is_active],
        labels=service.cause_labels(causes, ctx.locale),
        overdue=[i for i, _ in overdue],
        feedback=service.feedback_items(
            db, ctx.principal, brand_id=brand.id, quarter_label=label, unattributed=True, limit=25
        ),
        samples=[(s, service.findings(db, s)) for s in samples],
        owners=owners,
        names=service.agent_names(db, [i.owner_id for i in report.items + [i for i, _ in overdue]]),
        sources=[str(s) for s in FeedbackSource],
        statuses=[str(s) for s in ItemStatus],
        moves=service.ITEM_MOVES,
        can_manage=ctx.principal.can("teams:manage"),
        error=extra.pop("error", ""),
        notice=extra.pop("notice", ""),
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def page(request: Request, ctx: Ctx, db: DB, brand_id: int | None = None, quarter: str | None = None) -> HTMLResponse:
    """The quarter's plan, overdue items, KPIs, attribution summary, feedback to attribute and audit samples."""
    _need(ctx)
    return render(request, ctx, "quality/page.html", **_body(ctx, db, brand_id, quarter))


def _form_brand(form: FormData) -> int | None:
    return lenient_int(form.get("brand_id"))


def _act(request: Request, ctx: PageContext, db: DB, form: FormData, action: Any) -> HTMLResponse:
    """Run one action from a form and answer with the body (422 with the reason when refused)."""
    _need(ctx, "teams:manage")
    brand_id, quarter = _form_brand(form), form.get("quarter")
    error = notice = ""
    try:
        notice = action(form, brand_id, str(quarter or "")) or ""
    except ProblemError as exc:
        if exc.status in (403, 404):
            raise
        error = error_text(ctx, exc)
    data = _body(ctx, db, brand_id, quarter, error=error, notice=notice)
    return render(request, ctx, "quality/_body.html", status=422 if error else 200, **data)


@router.post("/draft", response_class=HTMLResponse)
def draft(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Draft (or top up) the quarter's plan from last quarter's top causes."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> str:
        _, brand = _pick(ctx, db, brand_id)
        d = service.draft_plan(db, ctx.principal, build(DraftPlan, {"brand_id": brand.id, "quarter": quarter}))
        return ctx.t["qp_drafted"].format(n=len(d.created))

    return _act(request, ctx, db, form, run)


@router.post("/plans/{plan_id}/items", response_class=HTMLResponse)
def add_item(request: Request, plan_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Add an improvement item."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> None:
        due = str(form.get("due_date") or "").strip()
        data: dict[str, Any] = {"title": str(form.get("title") or "")}
        if form.get("cause_key"):
            data["cause_key"] = str(form.get("cause_key"))
        if form.get("owner_id"):
            data["owner_id"] = optional_int(str(form.get("owner_id")), "owner_id")
        if due:
            data["due_date"] = due
        service.add_item(db, plan_id, ctx.principal, build(CreatePlanItem, data))

    return _act(request, ctx, db, form, run)


@router.post("/items/{item_id}/status", response_class=HTMLResponse)
def move_item(request: Request, item_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Move an item (closing needs the verification note)."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> None:
        data = {"status": str(form.get("status") or ""), "verification_note": str(form.get("verification_note") or "")}
        service.change_status(db, item_id, ctx.principal, build(ChangeItemStatus, data))

    return _act(request, ctx, db, form, run)


@router.post("/items/{item_id}/edit", response_class=HTMLResponse)
def edit_item(request: Request, item_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Change an item's owner and due date (an empty owner clears it)."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> None:
        data: dict[str, Any] = {"owner_id": optional_int(str(form.get("owner_id") or ""), "owner_id")}
        due = str(form.get("due_date") or "").strip()
        if due:
            data["due_date"] = due
        service.update_item(db, item_id, ctx.principal, build(UpdatePlanItem, data))

    return _act(request, ctx, db, form, run)


@router.post("/attribute", response_class=HTMLResponse)
def attribute(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """File one feedback item under a cause."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> None:
        data = {
            "source": str(form.get("source") or ""),
            "source_id": optional_int(str(form.get("source_id") or ""), "source_id"),
            "cause_key": str(form.get("cause_key") or ""),
        }
        service.attribute(db, ctx.principal, build(AttributeFeedback, data))

    return _act(request, ctx, db, form, run)


@router.post("/samples", response_class=HTMLResponse)
def create_sample(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Draw and record a third-party sample of the quarter's closed cases."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> None:
        _, brand = _pick(ctx, db, brand_id)
        data: dict[str, Any] = {"brand_id": brand.id, "quarter": quarter, "auditor": str(form.get("auditor") or "")}
        rate = str(form.get("rate") or "").strip()
        if rate:
            data["rate"] = _percent(rate)
        if str(form.get("seed") or "").strip():
            data["seed"] = str(form.get("seed")).strip()
        service.create_sample(db, ctx.principal, build(CreateSample, data))

    return _act(request, ctx, db, form, run)


def _percent(text: str) -> float | str:
    try:
        return float(text) / 100
    except ValueError:
        return text  # the command refuses it with its own message


@router.post("/samples/{sample_id}/findings", response_class=HTMLResponse)
def import_findings(request: Request, sample_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Import the auditor's findings (CSV text)."""

    def run(form: FormData, brand_id: int | None, quarter: str) -> str:
        r = service.import_findings(
            db, sample_id, ctx.principal, build(ImportFindings, {"csv": str(form.get("csv") or "")})
        )
        lines = "; ".join(f"{e['line']}: {e['error']}" for e in r.errors)
        head = ctx.t["qp_imported"].format(n=r.imported, a=r.attributed, e=len(r.errors))
        return f"{head} {lines}".strip()

    return _act(request, ctx, db, form, run)


@router.get("/samples/{sample_id}.csv", response_model=None)
def export_sample(sample_id: int, ctx: Ctx, db: DB) -> Response:
    """The masked sample as CSV for the auditor (audited)."""
    _need(ctx, "teams:manage")
    sample = service.get_sample(db, sample_id, ctx.principal)
    name = f"audit-sample-{sample.quarter}-{sample.id}.csv"
    return Response(
        service.export_csv(db, sample, ctx.principal),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
