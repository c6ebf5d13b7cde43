"""One validated command per complaint / regulator-case change; the API bodies subclass them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure

LEVEL_PATTERN = "^(normal|dispute|major)$"


class EvidenceRef(BaseModel):
    """A reference to an uploaded attachment (stored elsewhere)."""

    name: str = Field(min_length=1, max_length=300)
    ref: str = Field(min_length=1, max_length=1000)
    content_type: str | None = Field(default=None, max_length=100)


__all__ = ["UpdateComplaint", "UpdateRegulatorCase", "build", "changes_of", "ensure"]


class UpdateComplaint(BaseModel):
    """Form corrections or a level change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str | None = Field(default=None, pattern=LEVEL_PATTERN)
    complainant_name: str | None = Field(default=None, min_length=1, max_length=200)
    complainant_contact: str | None = Field(default=None, max_length=320)
    product: str | None = Field(default=None, max_length=500)
    order_number: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, min_length=1, max_length=50_000)
    requested_remedy: str | None = Field(default=None, max_length=10_000)
    evidence: list[EvidenceRef] | None = Field(default=None, max_length=50)


class UpdateRegulatorCase(BaseModel):
    """Case changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: str | None = Field(default=None, min_length=1, max_length=200)
    reference_no: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, min_length=1, max_length=500)
    summary: str | None = Field(default=None, max_length=50_000)
    coordination_meeting: bool | None = None
    meeting_at: datetime | None = None
