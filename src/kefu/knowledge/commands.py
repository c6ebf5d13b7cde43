"""One validated command per knowledge-base use case; the API bodies subclass them, pages, bot and demo build them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, changes_of, ensure

LOCALE_PATTERN = r"^(zh-TW|zh-CN|en)$"
FORMAT_PATTERN = r"^(text|html|markdown)$"
CategoryPath = list[Annotated[str, Field(min_length=1, max_length=200)]]

__all__ = ["CreateArticle", "CreateFaq", "UpdateArticle", "UpdateFaq", "build", "changes_of", "ensure"]


class CreateFaq(BaseModel):
    """New FAQ entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    locale: str = Field(pattern=LOCALE_PATTERN)
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    category_path: CategoryPath = Field(default_factory=list, max_length=10)
    intent: str | None = Field(default=None, max_length=64)
    questions: list[Annotated[str, Field(max_length=1000)]] = Field(min_length=1)
    answer: str = Field(min_length=1, max_length=20_000)
    answer_format: str = Field(default="text", pattern=FORMAT_PATTERN)
    is_published: bool = True


class UpdateFaq(BaseModel):
    """Partial FAQ change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str | None = Field(default=None, max_length=64)
    category_path: CategoryPath | None = Field(default=None, max_length=10)
    intent: str | None = Field(default=None, max_length=64)
    questions: list[Annotated[str, Field(max_length=1000)]] | None = Field(default=None, min_length=1)
    answer: str | None = Field(default=None, min_length=1, max_length=20_000)
    answer_format: str | None = Field(default=None, pattern=FORMAT_PATTERN)
    is_published: bool | None = None


class CreateArticle(BaseModel):
    """New article."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand_id: int
    locale: str = Field(pattern=LOCALE_PATTERN)
    category: str | None = Field(default=None, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=200_000)
    is_published: bool = True


class UpdateArticle(BaseModel):
    """Partial article change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=200_000)
    is_published: bool | None = None
    locale: str | None = Field(default=None, pattern=LOCALE_PATTERN)  # the console editor can move an article
