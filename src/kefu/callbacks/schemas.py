"""Call-back API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.customers.accessibility import Need


class VideoIn(BaseModel):
    """Ask for a video session instead of a phone call (only where the brand has a video provider)."""

    model_config = ConfigDict(extra="forbid")

    needs_sign_language: bool = False
    # A certified interpreter from a partner organisation, recorded on the booking (organisation, certification ref).
    interpreter_org: str | None = Field(default=None, min_length=2, max_length=200)
    interpreter_cert: str | None = Field(default=None, min_length=2, max_length=200)


class BookIn(BaseModel):
    """An agent books a call-back (on a case, or opening one)."""

    model_config = ConfigDict(extra="forbid")

    brand_id: int
    scheduled_at: datetime
    phone: str = Field(min_length=3, max_length=64)
    name: str = Field(default="", max_length=200)
    topic: str = Field(default="", max_length=4000)
    ticket_id: int | None = None
    source: Literal["agent", "phone"] = "agent"
    video: VideoIn | None = None


class PublicBookIn(BaseModel):
    """A customer books one of the offered slots (widget, portal, bot)."""

    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime
    phone: str = Field(min_length=3, max_length=64)
    name: str = Field(default="", max_length=200)
    topic: str = Field(default="", max_length=4000)
    source: Literal["widget", "portal", "bot"] = "widget"
    video: VideoIn | None = None
    # Needs the customer declares for themselves while booking (stored only with `accessibility_consent`).
    accessibility: list[Need] = Field(default_factory=list, max_length=4)
    accessibility_consent: bool = False
    # The client's id for this post (e.g. a UUID made when the form opened): the same post sent again (a double tap,
    # a retry after a lost answer) answers with the first booking instead of booking twice.
    submission_id: str | None = Field(default=None, min_length=8, max_length=64)


class CallbackOut(BaseModel):
    """A call-back, its case and its times (UTC; `local` in the brand's timezone)."""

    id: int
    brand_id: int
    ticket_id: int
    ticket_number: str
    assignee_id: int | None
    phone: str
    name: str
    topic: str
    source: str
    mode: str
    needs_sign_language: bool
    interpreter_org: str | None
    interpreter_cert: str | None
    video_url: str | None
    needs: list[str]
    scheduled_at: datetime
    local: str
    timezone: str
    window_minutes: int
    status: str
    outcome: str | None
    note: str
    done_at: datetime | None


class PublicBookingOut(BaseModel):
    """What the customer is told after booking."""

    ticket_number: str
    mode: str
    video_url: str | None
    scheduled_at: datetime
    local: str
    timezone: str


class SlotsOut(BaseModel):
    """Bookable slots, in UTC and the brand's local time."""

    timezone: str
    slot_minutes: int
    mode: str = "phone"
    video_offered: bool = False
    slots: list[dict[str, object]]


class CallbackPage(BaseModel):
    """A queue page."""

    items: list[CallbackOut]


class DoneIn(BaseModel):
    """The call's outcome."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "no_answer"]
    note: str = Field(default="", max_length=4000)
