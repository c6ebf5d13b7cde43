"""Routing bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.routing.models import STRATEGIES
from kefu.tickets.schemas import PRIORITY_PATTERN

STRATEGY_PATTERN = "^(" + "|".join(STRATEGIES) + ")$"


class RuleIn(BaseModel):
    """A routing rule; conditions keys: category, channel, priority, language, vip, organization, organization_id,
    tag, tier (a list value means any of)."""

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


class RuleUpdate(BaseModel):
    """Rule changes."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    position: int | None = None
    is_active: bool | None = None
    conditions: dict[str, Any] | None = None
    team_id: int | None = None
    set_priority: str | None = Field(default=None, pattern=PRIORITY_PATTERN)
    priority_bump: int | None = Field(default=None, ge=0, le=3)
    required_skills: list[str] | None = Field(default=None, max_length=50)
    stop: bool | None = None


class RuleOut(BaseModel):
    """A routing rule."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    name: str
    position: int
    is_active: bool
    conditions: dict[str, Any]
    team_id: int | None
    set_priority: str | None
    priority_bump: int
    required_skills: list[str]
    stop: bool
    created_at: datetime


class TeamRoutingIn(BaseModel):
    """How a team's queue is assigned."""

    strategy: str = Field(pattern=STRATEGY_PATTERN)
    auto_assign: bool = True


class TeamRoutingOut(BaseModel):
    """A team's routing configuration."""

    model_config = ConfigDict(from_attributes=True)

    team_id: int
    brand_id: int
    strategy: str
    auto_assign: bool
    last_agent_id: int | None


class DecisionOut(BaseModel):
    """A routing decision (dry run or applied)."""

    team_id: int | None
    team_reason: str | None
    priority: str | None
    skills: list[str]
    rules: list[str]
    assignee_id: int | None = None


class DispatchIn(BaseModel):
    """Manual dispatch of a ticket to an agent."""

    agent_id: int


class DispatchOut(BaseModel):
    """How many queued tickets were assigned."""

    assigned: int
