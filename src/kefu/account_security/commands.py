"""One validated command per use case of the security ladder; the API bodies subclass them, the pages build them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.core.commands import build, ensure

__all__ = ["RecordStep", "RequestFreeze", "SaveFreezeHook", "Step", "build", "ensure"]

Step = Literal["intervene", "freeze", "identity_verified", "repaired"]


class RecordStep(BaseModel):
    """Record one step of the ladder; `at` (when it happened) defaults to now and may not be in the future."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Step
    note: str = Field(default="", max_length=4000)
    at: datetime | None = None


class RequestFreeze(BaseModel):
    """Ask the brand's system (its freeze webhook) to freeze the customer's account temporarily."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    note: str = Field(default="", max_length=4000)


class SaveFreezeHook(BaseModel):
    """A brand's freeze webhook: an http(s) URL and the HMAC secret the brand's system verifies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=8, max_length=1000)
    secret: str = Field(min_length=16, max_length=200)
    is_active: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("the webhook URL must start with https:// or http://")
        return value.strip()
