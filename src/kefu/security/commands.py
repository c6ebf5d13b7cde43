"""One validated command per security-incident change; the API body subclasses it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure

__all__ = ["UpdateIncident", "build", "changes_of", "ensure"]


class UpdateIncident(BaseModel):
    """Partial incident change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = Field(default=None, min_length=1, max_length=300)
    level: int | None = Field(default=None, ge=1, le=4)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, max_length=64)
    affected_records: int | None = Field(default=None, ge=0)
    owner_id: int | None = None
    review_required: bool | None = None
    review_notes: str | None = Field(default=None, max_length=20_000)
