"""Notices sent about a case with their delivery state, and outage notices to affected customers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.core.errors import InvalidInput
from kefu.notices import broadcasts
from kefu.notices import service as _service  # noqa: F401  (registers the ticket status hook)
from kefu.notices.models import NoticeBroadcast
from kefu.privacy.masking import can_reveal, mask_email, mask_phone
from kefu.tickets.service import get_ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["notices"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Manage = Annotated[Principal, Depends(require("teams:manage"))]


class NoticeOut(BaseModel):
    """One notice delivery: what, on which route, to whom (masked without pii:reveal), and its state."""

    id: int
    kind: str
    route: str
    status: str
    state: str
    reason: str | None
    recipient: str | None
    customer_id: int | None
    ticket_number: str | None
    broadcast_id: int | None
    outbox_id: int | None
    message_id: int | None
    body: str
    created_at: datetime


def _mask(value: str | None, principal: Principal) -> str | None:
    if value is None or can_reveal(principal):
        return value
    return mask_email(value) if "@" in value else mask_phone(value)


def _out(d: broadcasts.Delivery, principal: Principal) -> NoticeOut:
    n = d.notice
    return NoticeOut(
        id=n.id,
        kind=n.kind,
        route=n.route,
        status=n.status,
        state=d.state,
        reason=d.error,
        recipient=_mask(n.recipient, principal),
        customer_id=n.customer_id,
        ticket_number=d.ticket_number,
        broadcast_id=n.broadcast_id,
        outbox_id=n.outbox_id,
        message_id=n.message_id,
        body=n.body,
        created_at=n.created_at,
    )


@router.get("/tickets/{ticket_id}/notices", response_model=list[NoticeOut])
def ticket_notices(ticket_id: int, db: DB, principal: Read) -> list[NoticeOut]:
    """Proactive notices sent to the customer about this case, oldest first, one row per channel."""
    t = get_ticket(db, ticket_id, principal)
    return [_out(d, principal) for d in broadcasts.ticket_deliveries(db, t.id)]


class OutageAudience(BaseModel):
    """Who is affected: cases of the brand by category, tag, the window they were opened in, open only."""

    model_config = ConfigDict(extra="forbid")

    brand_id: int
    category: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, max_length=64)
    since: datetime | None = None
    until: datetime | None = None
    open_only: bool = False

    def audience(self) -> broadcasts.Audience:
        """The service's audience (times need an offset)."""
        for t in (self.since, self.until):
            if t is not None and t.tzinfo is None:
                raise InvalidInput.said("err_notices_window_needs_offset")
        return broadcasts.Audience(self.category, self.tag, self.since, self.until, self.open_only)


class OutageIn(OutageAudience):
    """An outage notice: title and message, and the channels besides the customer's own (default: brand policy)."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=2000)
    channels: list[Literal["sms", "email"]] | None = None


class PreviewOut(BaseModel):
    """How many customers an audience reaches, and a few of their case numbers."""

    recipients: int
    too_many: bool
    sample: list[str]


class BroadcastOut(BaseModel):
    """A sent outage notice with its deliveries counted by state."""

    id: int
    brand_id: int
    kind: str
    title: str
    body: str
    audience: dict[str, object]
    channels: list[str]
    recipients: int
    states: dict[str, int]
    created_at: datetime


class BroadcastDetail(BroadcastOut):
    """A broadcast and every delivery (one per customer and channel)."""

    deliveries: list[NoticeOut]


@router.post("/notices/outages/preview", response_model=PreviewOut)
def outage_preview(body: OutageAudience, db: DB, principal: Manage) -> PreviewOut:
    """Count the affected customers without sending anything."""
    tickets = broadcasts.preview(db, body.brand_id, body.audience(), principal)
    n = min(len(tickets), broadcasts.MAX_RECIPIENTS)
    return PreviewOut(
        recipients=n, too_many=len(tickets) > broadcasts.MAX_RECIPIENTS, sample=[t.number for t in tickets[:10]]
    )


def _broadcast_out(row: NoticeBroadcast, states: dict[str, int]) -> BroadcastOut:
    return BroadcastOut(
        id=row.id,
        brand_id=row.brand_id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        audience=dict(row.audience or {}),
        channels=list(row.channels or []),
        recipients=row.recipients,
        states=states,
        created_at=row.created_at,
    )


@router.post("/notices/outages", response_model=BroadcastDetail, status_code=201)
def send_outage(body: OutageIn, db: DB, principal: Manage) -> BroadcastDetail:
    """Send an outage notice to every affected customer (own channel plus SMS / email, once each)."""
    row = broadcasts.broadcast_outage(
        db,
        body.brand_id,
        principal,
        title=body.title,
        body=body.body,
        audience=body.audience(),
        channels=list(body.channels) if body.channels is not None else None,
    )
    found = broadcasts.broadcast_deliveries(db, row)
    states: dict[str, int] = {}
    for d in found:
        states[d.state] = states.get(d.state, 0) + 1
    return BroadcastDetail(**_broadcast_out(row, states).model_dump(), deliveries=[_out(d, principal) for d in found])


@router.get("/notices/outages", response_model=list[BroadcastOut])
def list_outages(db: DB, principal: Read, brand_id: int | None = None) -> list[BroadcastOut]:
    """Recent outage notices with delivery counts by state."""
    return [_broadcast_out(row, dict(c)) for row, c in broadcasts.list_broadcasts(db, principal, brand_id)]


@router.get("/notices/outages/{broadcast_id}", response_model=BroadcastDetail)
def get_outage(broadcast_id: int, db: DB, principal: Read) -> BroadcastDetail:
    """One outage notice and the state of every delivery."""
    row = broadcasts.get_broadcast(db, broadcast_id, principal)
    found = broadcasts.broadcast_deliveries(db, row)
    states: dict[str, int] = {}
    for d in found:
        states[d.state] = states.get(d.state, 0) + 1
    return BroadcastDetail(**_broadcast_out(row, states).model_dump(), deliveries=[_out(d, principal) for d in found])
