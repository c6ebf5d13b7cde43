"""Quality API shapes: bodies subclass the commands; outputs for causes, feedback, plans, reports and samples."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.quality.commands import (
    AttributeFeedback,
    ChangeItemStatus,
    CreateCause,
    CreatePlanItem,
    CreateSample,
    DraftPlan,
    ImportFindings,
    UpdateCause,
    UpdatePlan,
    UpdatePlanItem,
)


class CauseIn(CreateCause):
    """A new root cause."""


class CausePatch(UpdateCause):
    """New labels or (de)activation."""


class AttributeIn(AttributeFeedback):
    """File a feedback item under a cause."""


class DraftIn(DraftPlan):
    """Draft a quarter's plan."""


class PlanPatch(UpdatePlan):
    """The plan's notes."""


class ItemIn(CreatePlanItem):
    """A new improvement item."""


class ItemPatch(UpdatePlanItem):
    """Changed fields of an item."""


class StatusIn(ChangeItemStatus):
    """A status move."""


class SampleIn(CreateSample):
    """A new third-party sample."""


class FindingsIn(ImportFindings):
    """The auditor's findings as CSV text."""


class CauseOut(BaseModel):
    """One cause of a brand's taxonomy."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    key: str
    label_zh_tw: str
    label_zh_cn: str
    label_en: str
    position: int
    is_active: bool


class AttributionOut(BaseModel):
    """A stored attribution."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    source: str
    source_id: int
    ticket_id: int | None
    cause_key: str
    note: str
    occurred_at: datetime
    attributed_by: int | None
    attributed_at: datetime


class SummaryRowOut(BaseModel):
    """Items of one cause from one source."""

    cause_key: str
    source: str
    count: int


class SummaryOut(BaseModel):
    """A quarter's attribution summary."""

    brand_id: int
    quarter: str
    total: int
    attributed: int
    rows: list[SummaryRowOut]
    by_cause: dict[str, int]
    by_source: dict[str, int]
    unattributed: dict[str, int]


class ItemOut(BaseModel):
    """An improvement item."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    brand_id: int
    title: str
    cause_key: str | None
    evidence: list[dict[str, Any]]
    owner_id: int | None
    due_date: date
    status: str
    verification_note: str
    completed_at: datetime | None
    closed_at: datetime | None
    overdue: bool = False
    on_time: bool = False


class ProgressOut(BaseModel):
    """A plan's progress."""

    total: int
    by_status: dict[str, int]
    completed: int
    on_time: int
    on_time_rate: float | None
    overdue: int


class PlanOut(BaseModel):
    """A quarter's plan with its items and progress."""

    id: int
    brand_id: int
    quarter: str
    notes: str
    created_at: datetime
    updated_at: datetime
    items: list[ItemOut]
    progress: ProgressOut


class ProposalOut(BaseModel):
    """An item a draft adds (or would add)."""

    cause_key: str
    title: str
    count: int
    evidence: list[dict[str, Any]]
    due_date: date


class DraftOut(BaseModel):
    """What drafting did, or in a dry run would do."""

    brand_id: int
    quarter: str
    based_on: SummaryOut
    proposals: list[ProposalOut]
    dry_run: bool
    plan: PlanOut | None


class ReportOut(BaseModel):
    """A quarter's plan progress, attribution summary and quality KPIs (kefu.analytics)."""

    brand_id: int
    quarter: str
    start: datetime
    end: datetime
    plan: PlanOut | None
    progress: ProgressOut
    summary: SummaryOut
    kpis: dict[str, Any]


class SampleOut(BaseModel):
    """A recorded third-party sample."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    quarter: str
    rate: float
    seed: str
    population: int
    sampled: int
    ticket_ids: list[int]
    auditor: str
    created_by: int | None
    created_at: datetime


class ImportOut(BaseModel):
    """Findings stored, attributed, and lines refused."""

    imported: int
    attributed: int
    errors: list[dict[str, Any]]
