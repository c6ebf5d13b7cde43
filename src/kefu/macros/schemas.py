"""Canned-response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kefu.macros.commands import CreateCanned, UpdateCanned


class CannedCreate(CreateCanned):
    """New canned response."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class CannedUpdate(UpdateCanned):
    """Partial change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


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
