"""One validated command per brand change; the API body subclasses it, the admin form and the theme editor build it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure


class TierIn(BaseModel):
    """A membership tier: reached when cumulative spend ≥ min_spend."""

    level: int = Field(ge=1, le=9)
    name: str = Field(min_length=1, max_length=64)
    min_spend: float = Field(ge=0)


__all__ = ["UpdateBrand", "build", "changes_of", "ensure"]


class UpdateBrand(BaseModel):
    """Partial brand change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    default_locale: str | None = Field(default=None, pattern=r"^(zh-TW|zh-CN|en)$")
    timezone: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    tiers: list[TierIn] | None = None
    settings: dict[str, Any] | None = None
