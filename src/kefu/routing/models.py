"""Routing rules and per-team assignment strategies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core import configcache
from kefu.core.db import Base, utcnow

STRATEGIES = ("round_robin", "least_loaded", "skills", "manual")


class RoutingRule(Base):
    """If a ticket matches `conditions`, apply the actions; rules run in `position` order."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Keys: category, channel, priority, language, vip, organization (bool: is B2B), organization_id, tag.
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    set_priority: Mapped[str | None] = mapped_column(String(16))
    priority_bump: Mapped[int] = mapped_column(default=0)
    required_skills: Mapped[list[Any]] = mapped_column(default=list)
    stop: Mapped[bool] = mapped_column(default=False)  # stop evaluating later rules once this one matched
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamRouting(Base):
    """How a team's queue is assigned; `last_agent_id` is the round-robin cursor."""

    __tablename__ = "team_routing"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    strategy: Mapped[str] = mapped_column(String(16), default="least_loaded")
    auto_assign: Mapped[bool] = mapped_column(default=True)
    last_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


configcache.watch(RoutingRule)  # rules are cached per process (kefu.routing.service)
