"""QA request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CriterionIn(BaseModel):
    """One weighted criterion."""

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    label_zh: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1, max_length=100)
    weight: float = Field(gt=0, le=1000)
    max: int = Field(default=5, ge=1, le=100)
    pass_mark: float = Field(ge=0)


class ScorecardIn(BaseModel):
    """A new scorecard (standard criteria when omitted)."""

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    criteria: list[CriterionIn] | None = Field(default=None, max_length=30)
    pass_score: float = Field(default=80.0, ge=0, le=100)
    is_default: bool = False


class ScorecardOut(BaseModel):
    """A scorecard."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    name: str
    criteria: list[dict[str, Any]]
    pass_score: float
    is_default: bool
    is_active: bool


class ReviewOut(BaseModel):
    """A QA review."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    conversation_id: int
    ticket_id: int | None
    agent_id: int | None
    status: str
    scorecard_id: int | None
    reviewer_id: int | None
    scores: dict[str, Any]
    total: float | None
    passed: bool | None
    accuracy_passed: bool | None
    comment: str
    created_at: datetime
    reviewed_at: datetime | None


class ScoreIn(BaseModel):
    """Scores per criterion key."""

    scores: dict[str, float] = Field(min_length=1, max_length=30)
    comment: str = Field(default="", max_length=4000)
    scorecard_id: int | None = None


class SampleIn(BaseModel):
    """Run a sample for one brand and day (defaults: yesterday, the brand's rate)."""

    brand_id: int
    day: date | None = None
    rate: float | None = Field(default=None, gt=0, le=1)


class SampleRunOut(BaseModel):
    """A day's sample."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    day: str
    rate: float
    population: int
    sampled: int
