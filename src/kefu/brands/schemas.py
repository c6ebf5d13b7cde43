"""Brand and inbox bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.brands.commands import TierIn, UpdateBrand
from kefu.brands.models import CHANNEL_KINDS


class BrandCreate(BaseModel):
    """New brand."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    default_locale: str = Field(default="zh-TW", pattern=r"^(zh-TW|zh-CN|en)$")
    timezone: str = "Asia/Taipei"
    currency: str = Field(default="TWD", pattern=r"^[A-Z]{3}$")
    # None: a prefix no other brand uses (KF for the first brand); a taken one is a 409.
    ticket_prefix: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9]{0,7}$")
    tiers: list[TierIn] | None = None


class BrandUpdate(UpdateBrand):
    """Partial brand change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class BrandOut(BaseModel):
    """A brand."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    default_locale: str
    timezone: str
    currency: str
    ticket_prefix: str
    tiers: list[dict[str, Any]]
    created_at: datetime


class InboxCreate(BaseModel):
    """New inbox (channel endpoint); web_chat, LINE, Messenger and API inboxes start with the bot on."""

    kind: str = Field(pattern="^(" + "|".join(CHANNEL_KINDS) + ")$")
    name: str = Field(min_length=1, max_length=200)
    bot_enabled: bool | None = Field(default=None, description="Default: on for web_chat, line, messenger, api.")
    config: dict[str, Any] = Field(default_factory=dict, description="Channel settings (see the inbox docs).")


class InboxUpdate(BaseModel):
    """Partial inbox change: settings are merged (null removes one); secrets can be set but never read."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_active: bool | None = None
    bot_enabled: bool | None = None
    settings: dict[str, Any] | None = None


class InboxOut(BaseModel):
    """An inbox: settings without secrets, and which secrets are set."""

    id: int
    brand_id: int
    kind: str
    name: str
    is_active: bool
    bot_enabled: bool
    settings: dict[str, Any]
    secrets_set: list[str]
    created_at: datetime
