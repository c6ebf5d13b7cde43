"""Bot API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PreviewIn(BaseModel):
    """Ask the bot what it would do with a message (no side effects)."""

    brand_id: int
    text: str = Field(min_length=1, max_length=2000)
    locale: str | None = Field(default=None, pattern=r"^(zh-TW|zh-CN|en)$")


class PreviewOut(BaseModel):
    """The bot's decision and its candidates."""

    decision: dict[str, Any]
    locale: str
    emotion: dict[str, Any]
    candidates: list[dict[str, Any]]


class SuggestionOut(BaseModel):
    """Agent assist for a conversation."""

    summary: str
    suggestions: list[dict[str, Any]]


class ReviewOut(BaseModel):
    """A review-queue item."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    conversation_id: int | None
    text: str
    locale: str | None
    reason: str
    confidence: float | None
    candidates: list[Any]
    status: str
    faq_id: int | None
    created_at: datetime


class AttachIn(BaseModel):
    """Attach a review item to an FAQ."""

    faq_id: int


class FeedbackIn(BaseModel):
    """A helpfulness vote on a bot answer."""

    message_id: int
    helpful: bool
