"""One validated command per canned-response use case; the API bodies subclass them, forms and demo data build them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure

__all__ = ["CreateCanned", "UpdateCanned", "build", "changes_of", "ensure"]


class CreateCanned(BaseModel):
    """New canned response."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    locale: str = Field(pattern=r"^(zh-TW|zh-CN|en)$")
    shortcut: str = Field(pattern=r"^[\w-]{1,64}$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class UpdateCanned(BaseModel):
    """Partial change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
