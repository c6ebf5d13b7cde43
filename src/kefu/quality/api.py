"""Quality API: root causes, feedback attribution, quarterly plans and reports, third-party audit samples."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.idempotency.deps import Idem
from kefu.quality import service
from kefu.quality.models import QualityPlan, QualityPlanItem
from kefu.quality.schemas import (
    AttributeIn,
    AttributionOut,
    CauseIn,
    CauseOut,
    CausePatch,
    DraftIn,
    DraftOut,
    FindingsIn,
    ImportOut,
    ItemIn,
    ItemOut,
    ItemPatch,
    PlanOut,
    PlanPatch,
    ProgressOut,
    ProposalOut,
    ReportOut,
    SampleIn,
    SampleOut,
    StatusIn,
    SummaryOut,
    SummaryRowOut,
)
from kefu.web.routing import Router

router = Router(prefix="/api/v1/quality", tags=["quality"])
Read = Annotated[Principal, Depends(require("reports:read"))]
Manage = Annotated[Principal, Depends(require("teams:manage"))]
Quarter = Annotated[str | None, Query(pattern=r"^\d{4}Q[1-4]$")]


def summary_out(s: service.Summary) -> SummaryOut:
    """API shape of an attribution summary."""
    return SummaryOut(
        brand_id=s.brand_id,
        quarter=s.quarter,
        total=s.total,
        attributed=s.attributed,
        rows=[SummaryRowOut(cause_key=r.cause_key, source=r.source, count=r.count) for r in s.rows],
        by_cause=s.by_cause,
        by_source=s.by_source,
        unattributed=s.unattributed,
    )


def progress_out(p: service.Progress) -> ProgressOut:
    """API shape of a plan's progress."""
    return ProgressOut(
        total=p.total,
        by_status=p.by_status,
        completed=p.completed,
        on_time=p.on_time,
        on_time_rate=p.on_time_rate,
        overdue=p.overdue,
    )


def item_out(db: Session, item: QualityPlanItem) -> ItemOut:
    """API shape of an item, with its overdue / on-time flags in the brand's timezone."""
    brand = db.get(Brand, item.brand_id)  # the session's identity map answers repeats without a query
    assert brand is not None  # non-null FK
    out = ItemOut.model_validate(item)
    return out.model_copy(
        update={
            "overdue": service.is_overdue(item, service.brand_today(brand)),
            "on_time": service.on_time(item, brand.timezone),
        }
    )


def plan_out(db: Session, plan: QualityPlan) -> PlanOut:
    """API shape of a plan with its items and progress."""
    brand = db.get(Brand, plan.brand_id)
    assert brand is not None  # non-null FK
    items = service.plan_items(db, plan)
    return PlanOut(
        id=plan.id,
        brand_id=plan.brand_id,
        quarter=plan.quarter,
        notes=plan.notes,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        items=[item_out(db, i) for i in items],
        progress=progress_out(service.progress(items, brand)),
    )


# ---------------------------------------------------------------- causes and attribution


@router.get("/causes", response_model=list[CauseOut])
def list_causes(brand_id: int, db: DB, principal: Read) -> list[CauseOut]:
    """The brand's root-cause taxonomy (defaults: product, process, people, system, policy)."""
    return [CauseOut.model_validate(c) for c in service.causes(db, principal, brand_id)]


@router.post("/causes", response_model=CauseOut, status_code=201)
def create_cause(body: CauseIn, db: DB, principal: Manage) -> CauseOut:
    """Add a cause, labelled in zh-TW, zh-CN and en."""
    return CauseOut.model_validate(service.create_cause(db, principal, body))


@router.patch("/causes/{cause_id}", response_model=CauseOut)
def update_cause(cause_id: int, body: CausePatch, db: DB, principal: Manage) -> CauseOut:
    """Relabel or (de)activate a cause."""
    return CauseOut.model_validate(service.update_cause(db, cause_id, principal, body))


@router.get("/feedback", response_model=list[service.FeedbackItem])
def feedback(
    brand_id: int,
    db: DB,
    principal: Read,
    quarter: Quarter = None,
    source: str | None = None,
    unattributed: bool = False,
    cause_key: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[service.FeedbackItem]:
    """The quarter's negative feedback items (low CSAT/campaign scores, complaints, failed QA, bot "not helpful",
    audit findings), newest first, with their causes."""
    return service.feedback_items(
        db,
        principal,
        brand_id=brand_id,
        quarter_label=quarter,
        source=source,
        unattributed=unattributed,
        cause_key=cause_key,
        limit=limit,
    )


@router.post("/attributions", response_model=AttributionOut)
def attribute(body: AttributeIn, db: DB, principal: Manage) -> AttributionOut:
    """File a feedback item under a cause (again: move it)."""
    return AttributionOut.model_validate(service.attribute(db, principal, body))


@router.get("/attributions/summary", response_model=SummaryOut)
def attribution_summary(brand_id: int, db: DB, principal: Read, quarter: Quarter = None) -> SummaryOut:
    """Counts by cause and source for a quarter (brand's timezone), and what is still unattributed."""
    return summary_out(service.summary(db, principal, brand_id, quarter))


# ---------------------------------------------------------------- plans


@router.post("/plans/draft", response_model=DraftOut)
def draft_plan(body: DraftIn, db: DB, principal: Manage) -> DraftOut:
    """Draft the quarter's plan from the previous quarter's top causes (`dry_run`: only the proposals)."""
    d = service.draft_plan(db, principal, body)
    return DraftOut(
        brand_id=d.brand_id,
        quarter=d.quarter,
        based_on=summary_out(d.based_on),
        proposals=[ProposalOut.model_validate(p, from_attributes=True) for p in d.proposals],
        dry_run=d.dry_run,
        plan=plan_out(db, d.plan) if d.plan is not None else None,
    )


@router.get("/plans", response_model=list[PlanOut])
def list_plans(brand_id: int, db: DB, principal: Read) -> list[PlanOut]:
    """A brand's plans, newest quarter first."""
    return [plan_out(db, p) for p in service.list_plans(db, principal, brand_id)]


@router.get("/plans/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: int, db: DB, principal: Read) -> PlanOut:
    """One plan with its items and progress."""
    return plan_out(db, service.get_plan(db, plan_id, principal))


@router.patch("/plans/{plan_id}", response_model=PlanOut)
def update_plan(plan_id: int, body: PlanPatch, db: DB, principal: Manage) -> PlanOut:
    """Edit the plan's notes."""
    return plan_out(db, service.update_plan(db, plan_id, principal, body))


@router.post("/plans/{plan_id}/items", response_model=ItemOut, status_code=201)
def add_item(plan_id: int, body: ItemIn, db: DB, principal: Manage) -> ItemOut:
    """Add an improvement item (due by default on the quarter's last day)."""
    item = service.add_item(db, plan_id, principal, body)
    return item_out(db, item)


@router.patch("/plan-items/{item_id}", response_model=ItemOut)
def update_item(item_id: int, body: ItemPatch, db: DB, principal: Manage) -> ItemOut:
    """Edit an item's title, cause, evidence, owner or due date."""
    item = service.update_item(db, item_id, principal, body)
    return item_out(db, item)


@router.post("/plan-items/{item_id}/status", response_model=ItemOut)
def change_status(item_id: int, body: StatusIn, db: DB, principal: Manage) -> ItemOut:
    """Move an item (closing needs a verification note)."""
    item = service.change_status(db, item_id, principal, body)
    return item_out(db, item)


@router.get("/plan-items/overdue", response_model=list[ItemOut])
def overdue(db: DB, principal: Read, brand_id: int | None = None) -> list[ItemOut]:
    """Open or in-progress items past their due date (each brand's timezone), most overdue first."""
    return [item_out(db, item) for item, _plan in service.overdue_items(db, principal, brand_id=brand_id)]


@router.get("/reports/{brand_id}/{quarter}", response_model=ReportOut)
def report(brand_id: int, quarter: str, db: DB, principal: Read) -> ReportOut:
    """The quarter report: plan progress, attribution summary, CSAT / QA / complaint / regulator figures."""
    r = service.quarter_report(db, principal, brand_id, quarter)
    return ReportOut(
        brand_id=r.brand.id,
        quarter=r.quarter.label,
        start=r.quarter.start,
        end=r.quarter.end,
        plan=plan_out(db, r.plan) if r.plan else None,
        progress=progress_out(r.progress),
        summary=summary_out(r.summary),
        kpis=r.kpis,
    )


# ---------------------------------------------------------------- third-party sampling


@router.post("/samples", response_model=SampleOut, status_code=201)
def create_sample(body: SampleIn, db: DB, principal: Manage, idem: Idem) -> SampleOut | JSONResponse:
    """Draw and record a seeded random sample of the quarter's closed cases (default 5 %)."""

    def work() -> SampleOut:
        return SampleOut.model_validate(service.create_sample(db, principal, body))

    # Without a seed a retry would draw another sample: the key replays the first one instead.
    return idem.run(db, work, lambda sample_id: SampleOut.model_validate(service.get_sample(db, sample_id, principal)))


@router.get("/samples", response_model=list[SampleOut])
def list_samples(brand_id: int, db: DB, principal: Read, quarter: Quarter = None) -> list[SampleOut]:
    """A brand's samples, newest first."""
    return [SampleOut.model_validate(s) for s in service.list_samples(db, principal, brand_id, quarter)]


@router.get("/samples/{sample_id}", response_model=SampleOut)
def get_sample(sample_id: int, db: DB, principal: Read) -> SampleOut:
    """One sample."""
    return SampleOut.model_validate(service.get_sample(db, sample_id, principal))


@router.get("/samples/{sample_id}/export", response_model=None)
def export_sample(
    sample_id: int, db: DB, principal: Manage, format: Literal["csv", "json"] = "json"
) -> Response | list[dict[str, Any]]:
    """The sampled cases for the external auditor, personal data masked; every export is audited."""
    sample = service.get_sample(db, sample_id, principal)
    if format == "csv":
        name = f"audit-sample-{sample.quarter}-{sample.id}.csv"
        return Response(
            service.export_csv(db, sample, principal),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return service.export_rows(db, sample, principal, "json")


@router.post("/samples/{sample_id}/findings", response_model=ImportOut)
def import_findings(sample_id: int, body: FindingsIn, db: DB, principal: Manage) -> ImportOut:
    """The auditor's findings (CSV: case number, score 0–100, finding[, cause key]); lines refused say why."""
    r = service.import_findings(db, sample_id, principal, body)
    return ImportOut(imported=r.imported, attributed=r.attributed, errors=r.errors)
