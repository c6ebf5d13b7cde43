"""One validated command per follow-up use case; the API body subclasses it, the admin form builds it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, ensure

__all__ = ["CreateFollowUpRule", "build", "ensure"]


class CreateFollowUpRule(BaseModel):
    """A follow-up rule: after resolution of matching cases, `attempts` contacts within `within_days`.

    The first contact must fall within the window: the service checks it (a 422 problem with its own message).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    attempts: int = Field(default=1, ge=1, le=10)
    within_days: int = Field(default=7, ge=1, le=90)
    first_after_hours: int = Field(default=24, ge=0, le=24 * 90)
    stop_when_reached: bool = False
    is_active: bool = True
