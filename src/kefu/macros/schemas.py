"""Canned-response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CannedCreate(BaseModel):
    """New canned response."""

    brand_id: int
    locale: str = Field(pattern=r"^(zh-TW|zh-CN|en)$")
    shortcut: str = Field(pattern=r"^[\w-]{1,64}$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class CannedUpdate(BaseModel):
    """Partial change."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)


class CannedOut(BaseModel):
    """A canned response."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    locale: str
    shortcut: str
    title: str
    body: str
    updated_at: datetime
