"""Complaint and regulator-case endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.complaints import due_soon, service, watch
from kefu.complaints.schemas import (
    CloseIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintUpdate,
    MessageIn,
    MonthStatsOut,
    RegulatorCaseIn,
    RegulatorCaseOut,
    RegulatorCaseUpdate,
    RegulatorStatsOut,
    TaskForceIn,
)
from kefu.core.pagination import Page
from kefu.idempotency.deps import Idem
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["complaints"])
# A calendar year a report can cover: outside it the year's bounds are no datetime (a 422, not a raise).
Year = Annotated[int, Query(ge=1900, le=9998)]
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


@router.post("/complaints", response_model=ComplaintOut, status_code=201)
def create_complaint(body: ComplaintIn, db: DB, principal: Write, idem: Idem) -> ComplaintOut | JSONResponse:
    """Register a complaint (opens its ticket; acknowledgement due in 1 business day, reply in 3–5)."""

    def work() -> ComplaintOut:
        return ComplaintOut.model_validate(service.create_complaint(db, actor=principal, **body.model_dump()))

    def again(complaint_id: int) -> ComplaintOut:
        return ComplaintOut.model_validate(service.get_complaint(db, complaint_id, principal))

    return idem.run(db, work, again)


@router.get("/complaints", response_model=Page[ComplaintOut])
def list_complaints(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    level: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[ComplaintOut]:
    """Complaints, latest received first."""
    rows, nxt = service.list_complaints(
        db, principal, brand_id=brand_id, level=level, status=status, limit=limit, cursor=cursor
    )
    return Page(items=[ComplaintOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut)
def get_complaint(complaint_id: int, db: DB, principal: Read) -> ComplaintOut:
    """One complaint."""
    return ComplaintOut.model_validate(service.get_complaint(db, complaint_id, principal))


@router.patch("/complaints/{complaint_id}", response_model=ComplaintOut)
def update_complaint(complaint_id: int, body: ComplaintUpdate, db: DB, principal: Write) -> ComplaintOut:
    """Correct the form or change the level."""
    c = service.get_complaint(db, complaint_id, principal)
    return ComplaintOut.model_validate(service.update_complaint(db, c, principal, body))


@router.post("/complaints/{complaint_id}/acknowledge", response_model=ComplaintOut)
def acknowledge(complaint_id: int, body: MessageIn, db: DB, principal: Write) -> ComplaintOut:
    """Acknowledge receipt to the complainant."""
    c = service.get_complaint(db, complaint_id, principal)
    return ComplaintOut.model_validate(service.acknowledge(db, c, principal, body.message, body.at))


@router.post("/complaints/{complaint_id}/task-force", response_model=ComplaintOut)
def task_force(complaint_id: int, body: TaskForceIn, db: DB, principal: Write) -> ComplaintOut:
    """Record the forming of the task force (major complaints: within 24 h)."""
    c = service.get_complaint(db, complaint_id, principal)
    return ComplaintOut.model_validate(service.form_task_force(db, c, principal, body.members, body.at))


@router.post("/complaints/{complaint_id}/reply", response_model=ComplaintOut)
def reply(complaint_id: int, body: MessageIn, db: DB, principal: Write) -> ComplaintOut:
    """Send the full reply and resolve the ticket."""
    c = service.get_complaint(db, complaint_id, principal)
    return ComplaintOut.model_validate(service.reply(db, c, principal, body.message, body.at))


@router.post("/complaints/{complaint_id}/close", response_model=ComplaintOut)
def close(complaint_id: int, body: CloseIn, db: DB, principal: Write) -> ComplaintOut:
    """Close the complaint with its outcome."""
    c = service.get_complaint(db, complaint_id, principal)
    return ComplaintOut.model_validate(service.close_complaint(db, c, principal, body.outcome))


@router.post("/regulator-cases", response_model=RegulatorCaseOut, status_code=201)
def create_case(body: RegulatorCaseIn, db: DB, principal: Write, idem: Idem) -> RegulatorCaseOut | JSONResponse:
    """Register an official letter (due in full within the brand's deadline, 15 calendar days by default)."""

    def work() -> RegulatorCaseOut:
        return RegulatorCaseOut.model_validate(service.create_regulator_case(db, actor=principal, **body.model_dump()))

    def again(case_id: int) -> RegulatorCaseOut:
        return RegulatorCaseOut.model_validate(service.get_regulator_case(db, case_id, principal))

    return idem.run(db, work, again)


@router.get("/regulator-cases", response_model=Page[RegulatorCaseOut])
def list_cases(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: str | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[RegulatorCaseOut]:
    """Regulator cases, latest received first."""
    rows, nxt = service.list_regulator_cases(
        db, principal, brand_id=brand_id, status=status, overdue=overdue, limit=limit, cursor=cursor
    )
    return Page(items=[RegulatorCaseOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/regulator-cases/stats", response_model=RegulatorStatsOut)
def stats(brand_id: int, year: Year, db: DB, principal: Reports) -> RegulatorStatsOut:
    """Per month of receipt: cases answered within the deadline, late, overdue, with coordination meetings."""
    brand = get_brand(db, brand_id, principal)
    months, total = service.regulator_stats(db, brand_id, principal, year=year)

    def out(m: service.MonthStats) -> MonthStatsOut:
        return MonthStatsOut(**m.model_dump(), on_time_rate=m.on_time_rate)

    return RegulatorStatsOut(
        brand_id=brand_id,
        year=year,
        deadline_days=int(brand.settings.get("regulator_deadline_days", service.DEFAULT_REGULATOR_DAYS)),
        months=[out(m) for m in months],
        total=out(total),
    )


@router.get("/regulator-cases/{case_id}", response_model=RegulatorCaseOut)
def get_case(case_id: int, db: DB, principal: Read) -> RegulatorCaseOut:
    """One regulator case."""
    return RegulatorCaseOut.model_validate(service.get_regulator_case(db, case_id, principal))


@router.patch("/regulator-cases/{case_id}", response_model=RegulatorCaseOut)
def update_case(case_id: int, body: RegulatorCaseUpdate, db: DB, principal: Write) -> RegulatorCaseOut:
    """Edit a case (e.g. flag a coordination meeting)."""
    c = service.get_regulator_case(db, case_id, principal)
    return RegulatorCaseOut.model_validate(service.update_regulator_case(db, c, principal, body))


@router.post("/regulator-cases/{case_id}/reply", response_model=RegulatorCaseOut)
def reply_case(case_id: int, body: MessageIn, db: DB, principal: Write) -> RegulatorCaseOut:
    """Record the full reply to the agency."""
    c = service.get_regulator_case(db, case_id, principal)
    return RegulatorCaseOut.model_validate(service.reply_regulator_case(db, c, principal, body.message, body.at))


@router.post("/regulator-cases/{case_id}/close", response_model=RegulatorCaseOut)
def close_case(case_id: int, db: DB, principal: Write) -> RegulatorCaseOut:
    """Close an answered case."""
    c = service.get_regulator_case(db, case_id, principal)
    return RegulatorCaseOut.model_validate(service.close_regulator_case(db, c, principal))


# ---------------------------------------------------------------- complaint deadline watch (#17)


class OverduePage(BaseModel):
    """Open complaints past their acknowledgement or reply deadline."""

    items: list[watch.OverdueItem]


class ComplaintStatsOut(BaseModel):
    """Per-month and yearly on-time rates of complaint acknowledgements and replies."""

    brand_id: int
    year: int
    months: list[watch.PeriodStats]
    total: watch.PeriodStats


@router.get("/complaint-deadlines/overdue", response_model=OverduePage)
def overdue_complaints(db: DB, principal: Read, brand_id: int | None = None) -> OverduePage:
    """Complaints not acknowledged in 1 business day or not answered in the reply days, longest overdue first."""
    return OverduePage(items=watch.overdue(db, principal, brand_id=brand_id))


@router.get("/complaint-deadlines/stats", response_model=ComplaintStatsOut)
def complaint_stats(brand_id: int, year: Year, db: DB, principal: Reports) -> ComplaintStatsOut:
    """On-time acknowledgement and reply rates per month of receipt."""
    months, total = watch.stats(db, brand_id, principal, year=year)
    return ComplaintStatsOut(brand_id=brand_id, year=year, months=months, total=total)


class DuePage(BaseModel):
    """Unmet complaint and regulator deadlines inside the warning window."""

    items: list[due_soon.DueItem]


@router.get("/complaint-deadlines/due-soon", response_model=DuePage)
def deadlines_due_soon(
    db: DB, principal: Read, brand_id: int | None = None, within_hours: Annotated[int, Query(ge=1, le=720)] = 72
) -> DuePage:
    """Complaint acknowledgements/replies and regulator replies due within `within_hours`, soonest first."""
    return DuePage(items=due_soon.due_soon(db, principal, brand_id=brand_id, within_hours=within_hours))
