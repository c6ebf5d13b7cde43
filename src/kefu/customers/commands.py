"""One validated command per customer or organization change; the API bodies subclass them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure

__all__ = ["UpdateCustomer", "UpdateOrganization", "build", "changes_of", "ensure"]


class UpdateCustomer(BaseModel):
    """Partial customer change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, pattern=r"^(zh-TW|zh-CN|en)$")
    organization_id: int | None = None
    vip: bool | None = None
    attributes: dict[str, Any] | None = None


class UpdateOrganization(BaseModel):
    """Partial organization change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    dedicated_team_id: int | None = None
    notes: str | None = Field(default=None, max_length=2000)
