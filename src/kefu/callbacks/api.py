"""Call-back endpoints: public slots and booking (widget/portal/bot), agents' booking, queue, outcome, figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.callbacks import service
from kefu.callbacks.models import Callback
from kefu.callbacks.schemas import (
    BookIn,
    CallbackOut,
    CallbackPage,
    DoneIn,
    PublicBookIn,
    PublicBookingOut,
    SlotsOut,
)
from kefu.portal.service import brand_by_slug
from kefu.tickets.models import Ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["call-backs"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def out(cb: Callback, t: Ticket, tz: str) -> CallbackOut:
    """API shape of a call-back (the privacy middleware masks the number for principals without pii:reveal)."""
    return CallbackOut(
        id=cb.id,
        brand_id=cb.brand_id,
        ticket_id=t.id,
        ticket_number=t.number,
        assignee_id=cb.assignee_id,
        phone=cb.phone,
        name=cb.name,
        topic=cb.topic,
        source=cb.source,
        scheduled_at=cb.scheduled_at,
        local=_local(cb.scheduled_at, tz),
        timezone=tz,
        window_minutes=cb.window_minutes,
        status=cb.status,
        outcome=cb.result,
        note=cb.note,
        done_at=cb.done_at,
    )


def _tz(db: DB, brand_id: int) -> str:
    brand = db.get(Brand, brand_id)
    return (brand.timezone if brand else None) or "Asia/Taipei"


@router.get("/public/brands/{slug}/callback-slots", response_model=SlotsOut, tags=["public"])
def public_slots(slug: str, db: DB) -> SlotsOut:
    """Open call-back slots of a brand (no login): business hours, minimum lead, days ahead, places left."""
    brand = brand_by_slug(db, slug)
    conf = service.settings_of(brand)
    return SlotsOut(
        timezone=brand.timezone,
        slot_minutes=conf["slot_minutes"],
        slots=[s.model_dump(mode="json") for s in service.slots(db, brand)],
    )


@router.post("/public/brands/{slug}/callbacks", response_model=PublicBookingOut, status_code=201, tags=["public"])
def public_book(slug: str, body: PublicBookIn, db: DB) -> PublicBookingOut:
    """A customer books an offered slot; a case opens and the agent calls at that time."""
    brand = brand_by_slug(db, slug)
    cb = service.book(
        db,
        brand.id,
        scheduled_at=body.scheduled_at,
        phone=body.phone,
        name=body.name,
        topic=body.topic,
        source=body.source,
        actor=None,
    )
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    return PublicBookingOut(
        ticket_number=t.number,
        scheduled_at=cb.scheduled_at,
        local=_local(cb.scheduled_at, brand.timezone),
        timezone=brand.timezone,
    )


@router.post("/callbacks", response_model=CallbackOut, status_code=201)
def book(body: BookIn, db: DB, principal: Write) -> CallbackOut:
    """An agent books a call-back agreed with the customer (any future time), on a case or opening one."""
    cb = service.book(
        db,
        body.brand_id,
        scheduled_at=body.scheduled_at,
        phone=body.phone,
        name=body.name,
        topic=body.topic,
        ticket_id=body.ticket_id,
        source=body.source,
        actor=principal,
    )
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    return out(cb, t, _tz(db, cb.brand_id))


@router.get("/callbacks", response_model=CallbackPage)
def callback_queue(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    mine: bool = False,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> CallbackPage:
    """Call-backs to make now (`due`) and missed ones by default; `status` picks others (booked, done, cancelled)."""
    statuses = tuple(status) if status else ("due", "missed")
    rows = service.queue(
        db,
        principal,
        brand_id=brand_id,
        assignee_id=principal.agent_id if mine else None,
        statuses=statuses,
        limit=limit,
    )
    zones = {b: _tz(db, b) for b in {c.brand_id for c, _ in rows}}
    return CallbackPage(items=[out(c, t, zones[c.brand_id]) for c, t in rows])


@router.post("/callbacks/{callback_id}/done", response_model=CallbackOut)
def done(callback_id: int, body: DoneIn, db: DB, principal: Write) -> CallbackOut:
    """Record the call: reached or no answer."""
    cb = service.complete(db, service.get_callback(db, callback_id, principal), principal, body.outcome, body.note)
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    return out(cb, t, _tz(db, cb.brand_id))


@router.post("/callbacks/{callback_id}/cancel", response_model=CallbackOut)
def cancel(callback_id: int, db: DB, principal: Write) -> CallbackOut:
    """Cancel an open call-back."""
    cb = service.cancel(db, service.get_callback(db, callback_id, principal), principal)
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    return out(cb, t, _tz(db, cb.brand_id))


@router.get("/callbacks/stats", response_model=service.CallbackStats)
def callback_stats(brand_id: int, start: datetime, end: datetime, db: DB, principal: Reports) -> service.CallbackStats:
    """Call-backs scheduled in a period: made within their window, late, missed, cancelled; by source."""
    aware = [v if v.tzinfo else v.replace(tzinfo=UTC) for v in (start, end)]
    return service.stats(db, brand_id, principal, start=aware[0], end=aware[1])
