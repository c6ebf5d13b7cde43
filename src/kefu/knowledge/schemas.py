"""Knowledge-base bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

LOCALE_PATTERN = r"^(zh-TW|zh-CN|en)$"


class FaqCreate(BaseModel):
    """New FAQ entry."""

    brand_id: int
    locale: str = Field(pattern=LOCALE_PATTERN)
    category: str | None = Field(default=None, max_length=64)
    intent: str | None = Field(default=None, max_length=64)
    questions: list[str] = Field(min_length=1, max_length=5000)
    answer: str = Field(min_length=1, max_length=20_000)
    is_published: bool = True


class FaqUpdate(BaseModel):
    """Partial FAQ change."""

    category: str | None = Field(default=None, max_length=64)
    intent: str | None = Field(default=None, max_length=64)
    questions: list[str] | None = Field(default=None, min_length=1, max_length=5000)
    answer: str | None = Field(default=None, min_length=1, max_length=20_000)
    is_published: bool | None = None


class FaqOut(BaseModel):
    """An FAQ entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    locale: str
    category: str | None
    intent: str | None
    questions: list[str]
    answer: str
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
