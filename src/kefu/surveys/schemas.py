"""Survey request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CsatAnswerIn(BaseModel):
    """A customer's rating."""

    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class CsatOut(BaseModel):
    """What the public survey page needs to know."""

    brand: str
    ticket_number: str
    answered: bool
    expired: bool
    rating: int | None = None


class DimensionIn(BaseModel):
    """One campaign dimension."""

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    label_zh: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1, max_length=100)


class CampaignIn(BaseModel):
    """A new campaign (default dimensions when omitted)."""

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    dimensions: list[DimensionIn] | None = Field(default=None, max_length=20)
    active_days: int = Field(default=90, ge=1, le=3650)
    message_zh: str = Field(default="", max_length=500)
    message_en: str = Field(default="", max_length=500)


class LaunchIn(BaseModel):
    """Launch options."""

    closes_in_days: int = Field(default=14, ge=1, le=120)


class CampaignOut(BaseModel):
    """A campaign."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    name: str
    dimensions: list[dict[str, Any]]
    active_days: int
    status: str
    created_at: datetime
    launched_at: datetime | None
    closes_at: datetime | None


class DimensionResultOut(BaseModel):
    """Aggregates of one dimension."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    label_zh: str
    label_en: str
    responses: int
    average: float | None
    satisfied: float | None
    neutral: float | None
    unsatisfied: float | None


class CampaignResultsOut(BaseModel):
    """Reach and per-dimension results."""

    campaign: CampaignOut
    invited: int
    not_sent: dict[str, int]  # unreachable (no channel that delivers) / no_consent (withdrew outreach consent)
    sent: int
    answered: int
    response_rate: float | None  # answered / sent: only recipients a message actually reached
    dimensions: list[DimensionResultOut]


class CampaignAnswerIn(BaseModel):
    """Scores per dimension key (1–5) and an optional comment."""

    scores: dict[str, int] = Field(min_length=1, max_length=20)
    comment: str = Field(default="", max_length=2000)


class CampaignFormOut(BaseModel):
    """What the public campaign page needs."""

    brand: str
    name: str
    dimensions: list[dict[str, Any]]
    answered: bool
    closed: bool
