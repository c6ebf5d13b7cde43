"""One validated command per quality use case; API bodies subclass them, console forms and the CLI build them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, ensure
from kefu.quality.models import FeedbackSource, ItemStatus

__all__ = [
    "AttributeFeedback",
    "ChangeItemStatus",
    "CreateCause",
    "CreatePlanItem",
    "CreateSample",
    "DraftPlan",
    "Evidence",
    "ImportFindings",
    "UpdateCause",
    "UpdatePlan",
    "UpdatePlanItem",
    "build",
    "ensure",
]

QUARTER = r"^\d{4}Q[1-4]$"
KEY = r"^[a-z][a-z0-9_]{0,31}$"


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateCause(_Command):
    """A root-cause category added to a brand's taxonomy, labelled in each locale."""

    brand_id: int
    key: str = Field(pattern=KEY)
    label_zh_tw: str = Field(min_length=1, max_length=100)
    label_zh_cn: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1, max_length=100)


class UpdateCause(_Command):
    """New labels or (de)activation of a cause; the key stays (attributions refer to it)."""

    label_zh_tw: str | None = Field(default=None, min_length=1, max_length=100)
    label_zh_cn: str | None = Field(default=None, min_length=1, max_length=100)
    label_en: str | None = Field(default=None, min_length=1, max_length=100)
    is_active: bool | None = None


class AttributeFeedback(_Command):
    """File one negative feedback item under a root cause (again: re-attribute it)."""

    source: FeedbackSource
    source_id: int
    cause_key: str = Field(pattern=KEY)
    note: str = Field(default="", max_length=2000)


class Evidence(_Command):
    """A feedback item (by source and id) or a case (source "case", the ticket id)."""

    source: str = Field(pattern=r"^(csat|campaign|complaint|qa|bot|audit|case)$")
    id: int


class DraftPlan(_Command):
    """Draft a quarter's plan from the previous quarter's top causes (dry run: only say what it would add)."""

    brand_id: int
    quarter: str = Field(pattern=QUARTER)
    top: int = Field(default=3, ge=1, le=10)
    dry_run: bool = False


class UpdatePlan(_Command):
    """The plan's notes."""

    notes: str = Field(max_length=5000)


class CreatePlanItem(_Command):
    """An improvement item added by a lead."""

    title: str = Field(min_length=1, max_length=300)
    cause_key: str | None = Field(default=None, pattern=KEY)
    evidence: list[Evidence] = Field(default_factory=list, max_length=200)
    owner_id: int | None = None
    due_date: date | None = None  # default: the quarter's last day


class UpdatePlanItem(_Command):
    """Edit an item; only the fields given change (owner_id null clears the owner)."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    cause_key: str | None = Field(default=None, pattern=KEY)
    evidence: list[Evidence] | None = Field(default=None, max_length=200)
    owner_id: int | None = None
    due_date: date | None = None


class ChangeItemStatus(_Command):
    """Move an item: open → in_progress → done → closed (closing needs the verification note)."""

    status: ItemStatus
    verification_note: str = Field(default="", max_length=2000)


class CreateSample(_Command):
    """Draw a random sample of the quarter's closed cases for an external auditor (seed given → reproducible)."""

    brand_id: int
    quarter: str = Field(pattern=QUARTER)
    rate: float = Field(default=0.05, gt=0, le=1)
    seed: str | None = Field(default=None, min_length=1, max_length=40)
    auditor: str = Field(default="", max_length=200)


class ImportFindings(_Command):
    """The auditor's CSV: case number, score (0–100), finding and optionally a cause key; a header row is allowed."""

    csv: str = Field(min_length=1, max_length=2_000_000)
