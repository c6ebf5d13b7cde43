"""Knowledge-base bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kefu.knowledge.commands import (
    CreateArticle,
    CreateFaq,
    UpdateFaq,
)


class FaqCreate(CreateFaq):
    """New FAQ entry."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class FaqUpdate(UpdateFaq):
    """Partial FAQ change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


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


class ArticleCreate(CreateArticle):
    """New article."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


# Not a subclass of UpdateArticle: the API cannot move an article to another locale (the console editor can), so
# the handler builds the command from this body.
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
