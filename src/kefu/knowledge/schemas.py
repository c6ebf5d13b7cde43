"""Knowledge-base bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

LOCALE_PATTERN = r"^(zh-TW|zh-CN|en)$"
FORMAT_PATTERN = r"^(text|html|markdown)$"
CategoryPath = list[Annotated[str, Field(min_length=1, max_length=200)]]


class FaqCreate(BaseModel):
    """New FAQ entry."""

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


class FaqUpdate(BaseModel):
    """Partial FAQ change."""

    category: str | None = Field(default=None, max_length=64)
    category_path: CategoryPath | None = Field(default=None, max_length=10)
    intent: str | None = Field(default=None, max_length=64)
    questions: list[Annotated[str, Field(max_length=1000)]] | None = Field(default=None, min_length=1)
    answer: str | None = Field(default=None, min_length=1, max_length=20_000)
    answer_format: str | None = Field(default=None, pattern=FORMAT_PATTERN)
    is_published: bool | None = None


class FaqOut(BaseModel):
    """An FAQ entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    external_id: str | None
    locale: str
    category: str | None
    category_path: list[str]
    intent: str | None
    questions: list[str]
    answer: str
    answer_format: str
    is_published: bool
    updated_at: datetime


class ArticleCreate(BaseModel):
    """New article."""

    brand_id: int
    locale: str = Field(pattern=LOCALE_PATTERN)
    category: str | None = Field(default=None, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=200_000)
    is_published: bool = True


class ArticleUpdate(BaseModel):
    """Partial article change."""

    category: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=200_000)
    is_published: bool | None = None


class ArticleOut(BaseModel):
    """An article."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    locale: str
    category: str | None
    title: str
    body: str
    is_published: bool
    updated_at: datetime
