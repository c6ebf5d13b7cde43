"""Call-back endpoints: public slots and booking (widget/portal/bot), agents' booking, queue, outcome, figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from kefu.auth.deps import DB, SettingsDep, client_ip, require, throttled
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
    VideoIn,
)
from kefu.customers.accessibility import DeclareNeeds, needs_by_customer
from kefu.idempotency.deps import Idem
from kefu.portal.service import brand_by_slug
from kefu.tickets.models import Ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["call-backs"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _video(body: VideoIn | None) -> service.VideoRequest | None:
    return service.VideoRequest(**body.model_dump()) if body is not None else None


def out(cb: Callback, t: Ticket, brand: Brand | None, needs: list[str] | None = None) -> CallbackOut:
    """API shape of a call-back (the privacy middleware masks the number for principals without pii:reveal)."""
    tz = (brand.timezone if brand else None) or "Asia/Taipei"
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
        mode=cb.mode,
        needs_sign_language=cb.needs_sign_language,
        interpreter_org=cb.interpreter_org,
        interpreter_cert=cb.interpreter_cert,
        video_url=service.video_url(brand, cb) if brand else None,
        needs=needs or [],
        scheduled_at=cb.scheduled_at,
        local=_local(cb.scheduled_at, tz),
        timezone=tz,
        window_minutes=cb.window_minutes,
        status=cb.status,
        outcome=cb.result,
        note=cb.note,
        done_at=cb.done_at,
    )


def _one(db: DB, cb: Callback) -> CallbackOut:
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    needs = needs_by_customer(db, {cb.customer_id} if cb.customer_id else set())
    return out(cb, t, db.get(Brand, cb.brand_id), needs.get(cb.customer_id or 0))


@router.get("/public/brands/{slug}/callback-slots", response_model=SlotsOut, tags=["public"])
def public_slots(slug: str, db: DB, mode: Literal["phone", "video"] = "phone", sign_language: bool = False) -> SlotsOut:
    """Open call-back slots of a brand (no login); `mode=video` gives video-session slots (409 without a provider)."""
    brand = brand_by_slug(db, slug)
    conf = service.settings_of(brand)
    video = service.VideoRequest(needs_sign_language=sign_language) if mode == "video" else None
    return SlotsOut(
        timezone=brand.timezone,
        slot_minutes=conf["slot_minutes"],
        mode=mode,
        video_offered=service.video_template(brand) is not None,
        slots=[s.model_dump(mode="json") for s in service.slots(db, brand, video=video)],
    )


@router.post(
    "/public/brands/{slug}/callbacks",
    response_model=PublicBookingOut,
    status_code=201,
    tags=["public"],
    dependencies=[Depends(throttled(service.PUBLIC_BOOKINGS))],
)
def public_book(slug: str, body: PublicBookIn, db: DB, request: Request, settings: SettingsDep) -> PublicBookingOut:
    """A customer books an offered slot (a call, or a video session with sign language); a case opens."""
    brand = brand_by_slug(db, slug)
    declared = (
        DeclareNeeds(needs=body.accessibility, consent=body.accessibility_consent) if body.accessibility else None
    )
    cb = service.book(
        db,
        brand.id,
        scheduled_at=body.scheduled_at,
        phone=body.phone,
        name=body.name,
        topic=body.topic,
        source=body.source,
        actor=None,
        video=_video(body.video),
        declared=declared,
        requester=service.requester_of(client_ip(request), settings),  # the cap counts this client's bookings apart
        submission_id=body.submission_id,
    )
    t = db.get(Ticket, cb.ticket_id)
    assert t is not None
    return PublicBookingOut(
        ticket_number=t.number,
        mode=cb.mode,
        video_url=service.video_url(brand, cb),
        scheduled_at=cb.scheduled_at,
        local=_local(cb.scheduled_at, brand.timezone),
        timezone=brand.timezone,
    )


@router.post("/callbacks", response_model=CallbackOut, status_code=201)
def book(body: BookIn, db: DB, principal: Write, idem: Idem) -> CallbackOut | JSONResponse:
    """An agent books a call-back or video session agreed with the customer (any future time), on a case or not."""

    def work() -> CallbackOut:
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
            video=_video(body.video),
        )
        return _one(db, cb)

    return idem.run(db, work, lambda callback_id: _one(db, service.get_callback(db, callback_id, principal)))


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
    brands = {b: db.get(Brand, b) for b in {c.brand_id for c, _ in rows}}
    needs = needs_by_customer(db, {c.customer_id for c, _ in rows if c.customer_id})
    return CallbackPage(items=[out(c, t, brands[c.brand_id], needs.get(c.customer_id or 0)) for c, t in rows])


@router.post("/callbacks/{callback_id}/done", response_model=CallbackOut)
def done(callback_id: int, body: DoneIn, db: DB, principal: Write) -> CallbackOut:
    """Record the call: reached or no answer."""
    cb = service.complete(db, service.get_callback(db, callback_id, principal), principal, body.outcome, body.note)
    return _one(db, cb)


@router.post("/callbacks/{callback_id}/cancel", response_model=CallbackOut)
def cancel(callback_id: int, db: DB, principal: Write) -> CallbackOut:
    """Cancel an open call-back."""
    cb = service.cancel(db, service.get_callback(db, callback_id, principal), principal)
    return _one(db, cb)


@router.get("/callbacks/stats", response_model=service.CallbackStats)
def callback_stats(brand_id: int, start: datetime, end: datetime, db: DB, principal: Reports) -> service.CallbackStats:
    """Call-backs scheduled in a period: made within their window, late, missed, cancelled; by source."""
    aware = [v if v.tzinfo else v.replace(tzinfo=UTC) for v in (start, end)]
    return service.stats(db, brand_id, principal, start=aware[0], end=aware[1])
