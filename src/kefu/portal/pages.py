"""Public customer portal pages: search the knowledge base (no login)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from kefu.auth.deps import DB
from kefu.brands.models import Inbox
from kefu.callbacks.service import book as cb_book
from kefu.callbacks.service import slots as cb_slots
from kefu.channels.board.service import submit
from kefu.channels.storage import describe, store
from kefu.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from kefu.portal import service
from kefu.tickets.models import Ticket
from kefu.tickets.progress import customer_progress
from kefu.web.i18n import pick_locale
from kefu.web.pages import LOCALE_COOKIE, render

router = APIRouter(include_in_schema=False, prefix="/portal")


@router.get("/{slug}", response_class=HTMLResponse)
def portal_home(request: Request, slug: str, db: DB, q: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """Help center: search FAQs and articles."""
    brand = service.brand_by_slug(db, slug)
    locale = pick_locale(request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE), brand.default_locale)
    hits = service.search(db, brand, q, locale) if q else []
    return render(request, None, "portal/home.html", brand=brand, q=q, hits=hits, searched=bool(q))


PORTAL_CSRF = "kefu_portal_csrf"
MAX_FILES = 3
MAX_FILE_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain")


def _csrf_token(request: Request) -> str:
    return request.cookies.get(PORTAL_CSRF) or secrets.token_urlsafe(24)


def _board_inbox(db: Session, brand_id: int) -> Inbox:
    inbox = db.scalar(
        select(Inbox)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "board", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
        .limit(1)
    )
    if inbox is None:
        raise NotFound("This help center does not accept tickets online.")
    return inbox


def _with_csrf(request: Request, response: HTMLResponse, token: str) -> HTMLResponse:
    if request.cookies.get(PORTAL_CSRF) != token:
        response.set_cookie(PORTAL_CSRF, token, httponly=True, samesite="strict", path="/portal")
    return response


@router.get("/{slug}/new", response_class=HTMLResponse)
def new_ticket_form(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Submit a ticket (with attachments) without an account."""
    brand = service.brand_by_slug(db, slug)
    _board_inbox(db, brand.id)
    token = _csrf_token(request)
    resp = render(
        request,
        None,
        "portal/new.html",
        brand=brand,
        csrf=token,
        error=None,
        form={},
        max_files=MAX_FILES,
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
    )
    return _with_csrf(request, resp, token)


@router.post("/{slug}/new", response_class=HTMLResponse)
async def submit_ticket(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Create the customer's conversation and ticket; files are checked for type and size before anything is stored."""
    brand = service.brand_by_slug(db, slug)
    inbox = _board_inbox(db, brand.id)
    form = await request.form()
    token = str(form.get("csrf_token", ""))
    fields = {k: str(form.get(k, "")).strip() for k in ("name", "contact", "subject", "message")}

    def again(error: str, status: int = 422) -> HTMLResponse:
        resp = render(
            request,
            None,
            "portal/new.html",
            status=status,
            brand=brand,
            csrf=_csrf_token(request),
            error=error,
            form=fields,
            max_files=MAX_FILES,
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )
        return resp

    cookie = request.cookies.get(PORTAL_CSRF, "")
    if not token or not cookie or not secrets.compare_digest(token, cookie):
        return again("csrf", 403)
    if str(form.get("website", "")):
        return again("invalid")  # honeypot filled: a bot
    if not fields["name"] or len(fields["contact"]) < 3 or not fields["message"]:
        return again("required")
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_FILES:
        return again("too_many_files")
    files: list[tuple[str, str, bytes]] = []
    for up in uploads:
        data = await up.read(MAX_FILE_BYTES + 1)
        ctype = (up.content_type or "").split(";")[0].strip().lower()
        if len(data) > MAX_FILE_BYTES:
            return again("file_too_large")
        if ctype not in ALLOWED_TYPES or not _sniff_ok(ctype, data):
            return again("file_type")
        files.append((up.filename or "file", ctype, data))
    text = f"{fields['subject']}\n\n{fields['message']}" if fields["subject"] else fields["message"]
    result = submit(
        db,
        inbox,
        name=fields["name"][:200],
        contact=fields["contact"][:320],
        category=None,
        message=text[:20_000],
        submission_id=str(form.get("submission_id") or secrets.token_hex(16)),
    )
    if files:
        stored = [
            describe(
                store(db, brand_id=brand.id, conversation_id=result.conversation.id, filename=n, content_type=c, data=d)
            )
            for n, c, d in files
        ]
        result.message.attachments = [*(result.message.attachments or []), *stored]
        db.flush()
    return render(request, None, "portal/thanks.html", brand=brand, number=result.ticket.number)


_MAGIC = {
    "image/png": (b"\x89PNG",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF",),
}


def _sniff_ok(ctype: str, data: bytes) -> bool:
    """The declared type must match the file's leading bytes (text must be valid UTF-8)."""
    if ctype == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return data.startswith(_MAGIC.get(ctype, (b"\x00\x00\x00\x00\x00",)))


@router.get("/{slug}/track", response_class=HTMLResponse)
def track_form(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Check a request's progress with its case number and the email or phone it was filed with."""
    brand = service.brand_by_slug(db, slug)
    token = _csrf_token(request)
    resp = render(request, None, "portal/track.html", brand=brand, csrf=token, error=None, view=None, number="")
    return _with_csrf(request, resp, token)


@router.post("/{slug}/track", response_class=HTMLResponse)
async def track(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Show the customer-safe progress view; every mismatch looks the same (no data leak), attempts are limited."""
    brand = service.brand_by_slug(db, slug)
    form = await request.form()
    number = str(form.get("number", "")).strip()[:32]
    contact = str(form.get("contact", "")).strip()[:320]
    token = _csrf_token(request)

    def page(error: str | None, view: dict[str, object] | None, status: int = 200) -> HTMLResponse:
        return render(
            request,
            None,
            "portal/track.html",
            status=status,
            brand=brand,
            csrf=token,
            error=error,
            view=view,
            number=number,
        )

    sent = str(form.get("csrf_token", ""))
    if not sent or not secrets.compare_digest(sent, request.cookies.get(PORTAL_CSRF, "")):
        return page("csrf", None, 403)
    ip = request.client.host if request.client else "unknown"
    try:
        view = customer_progress(db, number, contact, ip=ip, brand_id=brand.id)
    except TooManyRequests:
        return page("track_limited", None, 429)
    except NotFound:
        return page("track_nomatch", None, 404)
    return page(None, view)


# ---------------------------------------------------------------- call-back booking (預約回電)


@router.get("/{slug}/callback", response_class=HTMLResponse)
def callback_form(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Pick a call-back slot (brand's local times) and leave a number."""
    brand = service.brand_by_slug(db, slug)
    token = _csrf_token(request)
    resp = render(
        request, None, "portal/callback.html", brand=brand, csrf=token, error=None, form={}, slots=cb_slots(db, brand)
    )
    return _with_csrf(request, resp, token)


@router.post("/{slug}/callback", response_class=HTMLResponse)
async def callback_book(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Book the chosen slot; a taken slot or a bad number shows the form again with the reason."""
    brand = service.brand_by_slug(db, slug)
    form = await request.form()
    fields = {k: str(form.get(k, "")).strip() for k in ("name", "phone", "topic", "slot")}

    def again(error: str, status: int = 422) -> HTMLResponse:
        return render(
            request,
            None,
            "portal/callback.html",
            status=status,
            brand=brand,
            csrf=_csrf_token(request),
            error=error,
            form=fields,
            slots=cb_slots(db, brand),
        )

    sent = str(form.get("csrf_token", ""))
    if not sent or not secrets.compare_digest(sent, request.cookies.get(PORTAL_CSRF, "")):
        return again("csrf", 403)
    if str(form.get("website", "")):
        return again("invalid")
    try:
        at = datetime.fromisoformat(fields["slot"])
    except ValueError:
        return again("cb_slot")
    try:
        cb = cb_book(
            db,
            brand.id,
            scheduled_at=at,
            phone=fields["phone"][:64],
            name=fields["name"][:200],
            topic=fields["topic"][:4000],
            source="portal",
            actor=None,
        )
    except TooManyRequests:
        return again("cb_limit", 429)
    except Conflict:
        return again("cb_slot", 409)
    except InvalidInput:
        return again("cb_phone")
    ticket = db.get(Ticket, cb.ticket_id)
    assert ticket is not None
    local = at.astimezone(ZoneInfo(brand.timezone)).strftime("%Y-%m-%d %H:%M")
    return render(
        request,
        None,
        "portal/callback_booked.html",
        brand=brand,
        number=ticket.number,
        local=local,
        zone=brand.timezone,
    )
