"""One validated command per routing-rule use case; the API bodies subclass them, the admin form builds them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure
from kefu.tickets.models import PRIORITIES

PRIORITY_PATTERN = "^(" + "|".join(PRIORITIES) + ")$"

__all__ = ["CreateRoutingRule", "UpdateRoutingRule", "build", "changes_of", "ensure"]


class CreateRoutingRule(BaseModel):
    """A routing rule; conditions keys: category, channel, priority, language, vip, organization, organization_id,
    tag, tier (a list value means any of)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    position: int | None = None
    is_active: bool = True
    conditions: dict[str, Any] = Field(default_factory=dict)
    team_id: int | None = None
    set_priority: str | None = Field(default=None, pattern=PRIORITY_PATTERN)
    priority_bump: int = Field(default=0, ge=0, le=3)
    required_skills: list[str] = Field(default_factory=list, max_length=50)
    stop: bool = False


class UpdateRoutingRule(BaseModel):
    """Rule changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    position: int | None = None
    is_active: bool | None = None
    conditions: dict[str, Any] | None = None
    team_id: int | None = None
    set_priority: str | None = Field(default=None, pattern=PRIORITY_PATTERN)
    priority_bump: int | None = Field(default=None, ge=0, le=3)
    required_skills: list[str] | None = Field(default=None, max_length=50)
    stop: bool | None = None
