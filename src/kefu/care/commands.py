"""One validated command per care use case; the API bodies subclass them, the console forms build them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kefu.core.commands import build, ensure
from kefu.tickets.models import TicketPriority

__all__ = ["CareRules", "ConvertToCase", "DismissOpportunity", "ReachOut", "build", "ensure"]


class CareRules(BaseModel):
    """A brand's detection rules (``settings["care"]``); every field has the documented default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # (a) the same topic (ticket category or the bot's FAQ intent) this many times within the window
    topic_repeats: int = Field(default=3, ge=2, le=50)
    topic_window_hours: int = Field(default=24, ge=1, le=24 * 14)
    # (b) the bot fell back this many times in one conversation (or the customer sent the same question twice)
    bot_failures: int = Field(default=2, ge=1, le=20)
    # (c) on one page/step for this long (the widget reports every minute while visible), or back to it N times
    dwell_minutes: int = Field(default=5, ge=1, le=240)
    step_returns: int = Field(default=3, ge=2, le=50)
    flow_window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # (d) a case reopened this many times
    reopens: int = Field(default=2, ge=1, le=20)
    # After an opportunity for a customer and reason, the same reason is not raised again for this long.
    quiet_hours: int = Field(default=72, ge=1, le=24 * 90)


class ReachOut(BaseModel):
    """The proactive message an agent sends on the customer's own channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body: str = Field(min_length=1, max_length=4000)


class DismissOpportunity(BaseModel):
    """Close an opportunity without contact, saying why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1, max_length=500)


class ConvertToCase(BaseModel):
    """Open a case for the customer from the opportunity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1, max_length=500)
    priority: TicketPriority | None = None
