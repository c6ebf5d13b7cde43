"""Routing bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.routing.commands import CreateRoutingRule, UpdateRoutingRule
from kefu.routing.models import STRATEGIES

STRATEGY_PATTERN = "^(" + "|".join(STRATEGIES) + ")$"


class RuleIn(CreateRoutingRule):
    """A routing rule; conditions keys: category, channel, priority, language, vip, organization, organization_id,
    tag, tier (a list value means any of)."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class RuleUpdate(UpdateRoutingRule):
    """Rule changes."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


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
