"""Public customer portal pages: search the knowledge base (no login)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from kefu.auth.deps import DB, SettingsDep, client_ip, throttled
from kefu.brands import service as brand_service
from kefu.brands import theme as brand_theme
from kefu.brands.models import Brand, Inbox
from kefu.callbacks.service import PUBLIC_BOOKINGS, VideoRequest, video_template, video_url
from kefu.callbacks.service import book as cb_book
from kefu.callbacks.service import requester_of as cb_requester
from kefu.callbacks.service import slots as cb_slots
from kefu.callbacks.service import ticket_number as cb_ticket_number
from kefu.channels.board.service import SUBMISSIONS, submit
from kefu.channels.storage import describe, store
from kefu.conversations import service as conv_service
from kefu.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from kefu.core.l10n import format_datetime, format_month, format_number, format_ratio
from kefu.customers.accessibility import HEARING, DeclareNeeds
from kefu.customers.models import NEEDS
from kefu.knowledge.render import for_channel
from kefu.portal import metrics as public_metrics
from kefu.portal import service
from kefu.tickets import service as ticket_service
from kefu.tickets.progress import customer_progress, progress_view, verified_ticket
from kefu.web.forms import PostedForm, lenient_int
from kefu.web.i18n import LOCALE_COOKIE, pick_locale, translator
from kefu.web.pages import render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/portal")


def _locale(request: Request, brand: Brand) -> str:
    return pick_locale(request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE), brand.default_locale)


def _hc(request: Request, db: Session, brand: Brand, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    """A help-centre page: the brand's language by default, its chat widget embedded when it has one."""
    data.setdefault("chat_inbox", service.chat_inbox_id(db, brand.id))
    return render(request, None, name, status=status, brand=brand, page_locale=brand.default_locale, **data)


def _not_found(request: Request, db: Session, brand: Brand | None) -> HTMLResponse:
    if brand is None:
        return render(request, None, "portal/not_found.html", status=404, brand=None, q="")
    return _hc(request, db, brand, "portal/not_found.html", status=404, q="")


def _brand(db: Session, slug: str) -> Brand | None:
    try:
        return service.brand_by_slug(db, slug)
    except NotFound:
        return None


@router.get("/{slug}/brand.css", response_model=None)
def brand_stylesheet(slug: str, db: DB) -> Response:
    """The brand's colours as CSS custom properties for the help centre and the chat widget (no inline styles)."""
    brand = _brand(db, slug)
    css = brand_theme.stylesheet(brand_theme.theme_of(brand)) if brand else ""
    # Cross-site pages embed the widget, which links this sheet; max-age is short so a new colour shows soon.
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{slug}/logo", response_model=None)
def brand_logo(slug: str, db: DB) -> Response:
    """The brand's uploaded help-centre logo."""
    return _brand_image(db, slug, "logo")


@router.get("/{slug}/favicon", response_model=None)
def brand_favicon(slug: str, db: DB) -> Response:
    """The brand's uploaded favicon."""
    return _brand_image(db, slug, "favicon")


def _brand_image(db: Session, slug: str, kind: str) -> Response:
    """An uploaded brand image (raster types checked on upload; never a document: kefu.security.asgi.FILE_CSP)."""
    brand = _brand(db, slug)
    row = brand_theme.asset(db, brand, kind) if brand else None
    if row is None:
        raise NotFound.said("err_portal_no_image")
    return Response(
        row.data,
        media_type=row.content_type,
        headers={
            "Cache-Control": "public, max-age=86400",
            "ETag": f'"{row.sha256[:32]}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/{slug}", response_class=HTMLResponse)
def portal_home(request: Request, slug: str, db: DB, q: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """Help centre home: search (as the bot understands questions), topics, popular articles and questions."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    locale = _locale(request, brand)
    q = q.strip()
    if q:
        hits = service.retrieve(db, brand, q, locale)
        return _hc(request, db, brand, "portal/home.html", q=q, hits=hits, searched=True)
    return _hc(
        request,
        db,
        brand,
        "portal/home.html",
        q="",
        searched=False,
        cats=service.categories(db, brand, locale),
        articles=service.popular_articles(db, brand, locale),
        faqs=service.popular_faqs(db, brand, locale),
        metrics_public=public_metrics.enabled(brand),
    )


@router.get("/{slug}/metrics", response_class=HTMLResponse)
def portal_metrics(request: Request, slug: str, db: DB) -> HTMLResponse:
    """Published service metrics (透明化數據看板) when the brand opts in; brand totals only, small samples withheld."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    if not public_metrics.enabled(brand):
        return _not_found(request, db, brand)
    locale = _locale(request, brand)
    periods = public_metrics.public_metrics(db, brand)
    resp = _hc(
        request,
        db,
        brand,
        "portal/metrics.html",
        q="",
        periods=[_period_view(p, brand, locale) for p in periods],
        definitions=public_metrics.definitions(locale),
        min_sample=public_metrics.MIN_SAMPLE,
        zone=brand.timezone,
    )
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def _period_view(period: public_metrics.Period, brand: Brand, locale: str) -> dict[str, Any]:
    """A period's heading and its figures written for the visitor's locale."""
    last = period.end - timedelta(seconds=1)
    if period.kind == "recent":
        label = (
            "recent",
            format_datetime(period.start, locale, brand.timezone, "date"),
            _local_date(last, brand, locale),
        )
    else:
        label = ("month", format_month(period.start, locale, brand.timezone), "")
    return {
        "kind": label[0],
        "label": label[1],
        "until": label[2],
        "figures": [
            {"key": f.key, "value": _figure_text(f, locale), "sample": f.sample, "suppressed": f.suppressed}
            for f in period.figures
        ],
    }


def _figure_text(f: public_metrics.Figure, locale: str) -> str:
    """A figure as the visitor reads it: durations in minutes or hours, rates as percentages, stars out of 5."""
    if f.value is None:
        return ""
    if f.unit == "percent":
        return format_ratio(f.value, locale, 1)
    if f.unit == "score":
        return f"{format_number(f.value, locale, 2)} / 5"
    minutes = f.value / 60
    t = translator(locale)
    if minutes < 120:
        return t["p3_minutes"].format(n=format_number(minutes, locale, 0 if minutes >= 10 else 1))
    return t["p3_hours"].format(n=format_number(minutes / 60, locale, 1))


@router.get("/{slug}/c/{category}", response_class=HTMLResponse)
def portal_category(request: Request, slug: str, category: str, db: DB) -> HTMLResponse:
    """One topic: its articles and questions in the visitor's language."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    articles, faqs = service.in_category(db, brand, _locale(request, brand), category[:64])
    if not articles and not faqs:
        return _not_found(request, db, brand)
    return _hc(request, db, brand, "portal/category.html", category=category, articles=articles, faqs=faqs, q="")


def _voted(request: Request, kind: str, item_id: int) -> bool:
    return f"{kind[0]}{item_id}" in request.cookies.get(VOTED_COOKIE, "").split(".")


@router.get("/{slug}/a/{article_id}", response_class=HTMLResponse)
def portal_article(request: Request, slug: str, article_id: int, db: DB) -> HTMLResponse:
    """An article (Markdown, sanitised) with "was this helpful?" and related articles."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    try:
        art = service.published_article(db, brand, article_id)
    except NotFound:
        return _not_found(request, db, brand)
    token = _csrf_token(request)
    resp = _hc(
        request,
        db,
        brand,
        "portal/article.html",
        item=art,
        kind="article",
        title=art.title,
        body=_rich(art.body, "markdown"),
        updated=_local_date(art.updated_at, brand, _locale(request, brand)),
        related=service.related_articles(db, brand, art),
        voted=_voted(request, "article", art.id),
        csrf=token,
    )
    return _with_csrf(request, resp, token)


@router.get("/{slug}/faq/{faq_id}", response_class=HTMLResponse)
def portal_faq(request: Request, slug: str, faq_id: int, db: DB) -> HTMLResponse:
    """One question and its answer with "was this helpful?"."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    try:
        faq = service.published_faq(db, brand, faq_id)
    except NotFound:
        return _not_found(request, db, brand)
    token = _csrf_token(request)
    resp = _hc(
        request,
        db,
        brand,
        "portal/article.html",
        item=faq,
        kind="faq",
        title=faq.questions[0],
        body=_rich(faq.answer, faq.answer_format),
        updated=_local_date(faq.updated_at, brand, _locale(request, brand)),
        related=[],
        voted=_voted(request, "faq", faq.id),
        csrf=token,
    )
    return _with_csrf(request, resp, token)


@router.post("/{slug}/vote", response_model=None, dependencies=[Depends(throttled(service.VOTES))])
def portal_vote(request: Request, slug: str, db: DB, form: PostedForm) -> HTMLResponse | RedirectResponse:
    """Count a helpful / not-helpful vote once per browser and go back to the page."""
    brand = _brand(db, slug)
    if brand is None:
        return _not_found(request, db, None)
    kind = "article" if form.get("kind") == "article" else "faq"
    item_id = lenient_int(form.get("id"))
    token, cookie = str(form.get("csrf_token", "")), request.cookies.get(PORTAL_CSRF, "")
    if item_id is None or not token or not cookie or not secrets.compare_digest(token, cookie):
        return _not_found(request, db, brand)
    back = f"/portal/{brand.slug}/{'a' if kind == 'article' else 'faq'}/{item_id}"
    resp = RedirectResponse(back, status_code=303)
    if _voted(request, kind, item_id):
        return resp
    try:
        service.vote(db, brand, kind, item_id, form.get("helpful") == "1")
    except NotFound:
        return _not_found(request, db, brand)
    db.commit()
    seen = [v for v in request.cookies.get(VOTED_COOKIE, "").split(".") if v][-50:]
    resp.set_cookie(
        VOTED_COOKIE, ".".join([*seen, f"{kind[0]}{item_id}"]), httponly=True, samesite="lax", path="/portal"
    )
    return resp


def _rich(body: str, fmt: str) -> object:
    """Sanitised HTML of an article or answer (the knowledge renderer marks it safe)."""
    rendered = for_channel(body, fmt, "portal")
    return rendered.html if rendered.html is not None else rendered.text


def _local_date(when: datetime, brand: Brand, locale: str) -> str:
    return format_datetime(when, locale, brand.timezone, "date")


VOTED_COOKIE = "kefu_hc_voted"
PORTAL_CSRF = "kefu_portal_csrf"
MAX_FILES = 3
MAX_FILE_BYTES = 10 * 1024 * 1024
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", *VIDEO_TYPES)


def _csrf_token(request: Request) -> str:
    return request.cookies.get(PORTAL_CSRF) or secrets.token_urlsafe(24)


def _board_inbox(db: Session, brand_id: int) -> Inbox:
    inbox = brand_service.board_inbox(db, brand_id)
    if inbox is None:
        raise NotFound.said("err_portal_no_online_tickets")
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
        video_mb=service.video_limit_bytes(brand) // (1024 * 1024),
    )
    return _with_csrf(request, resp, token)


@router.post("/{slug}/new", response_class=HTMLResponse, dependencies=[Depends(throttled(SUBMISSIONS))])
def submit_ticket(request: Request, slug: str, db: DB, form: PostedForm) -> HTMLResponse:
    """Create the customer's conversation and ticket; files are checked for type and size before anything is stored."""
    brand = service.brand_by_slug(db, slug)
    inbox = _board_inbox(db, brand.id)
    token = str(form.get("csrf_token", ""))
    fields = {k: str(form.get(k, "")).strip() for k in ("name", "contact", "subject", "message")}
    video_max = service.video_limit_bytes(brand)

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
            video_mb=video_max // (1024 * 1024),
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
    total = 0
    for up in uploads:
        ctype = (up.content_type or "").split(";")[0].strip().lower()
        cap = video_max if ctype in VIDEO_TYPES else MAX_FILE_BYTES
        data = up.file.read(cap + 1)
        if len(data) > cap:
            return again("video_too_large" if ctype in VIDEO_TYPES else "file_too_large")
        total += len(data)
        if total > service.UPLOAD_TOTAL_BYTES:
            return again("files_too_large")
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
    if files and result.created:  # a double submit's files are on its first message already
        stored = [
            describe(
                store(db, brand_id=brand.id, conversation_id=result.conversation.id, filename=n, content_type=c, data=d)
            )
            for n, c, d in files
        ]
        conv_service.attach(db, result.message, stored)
    return render(request, None, "portal/thanks.html", brand=brand, number=result.ticket.number)


_MAGIC = {
    "image/png": (b"\x89PNG",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF",),
}


# ISO base media (MP4, QuickTime): a box size then its type at bytes 4–8; old QuickTime files may open with other boxes.
_ISO_BOXES = {"video/mp4": (b"ftyp",), "video/quicktime": (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")}


def _sniff_ok(ctype: str, data: bytes) -> bool:
    """The declared type must match the file's leading bytes (text must be valid UTF-8)."""
    if ctype in _ISO_BOXES:
        return len(data) >= 12 and data[4:8] in _ISO_BOXES[ctype]
    if ctype == "video/webm":
        # EBML header, and the document type must be webm (Matroska .mkv is not offered to agents' browsers).
        return data.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in data[:64]
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
def track(request: Request, slug: str, db: DB, form: PostedForm) -> HTMLResponse:
    """Show the customer-safe progress view; every mismatch looks the same (no data leak), attempts are limited."""
    brand = service.brand_by_slug(db, slug)
    number = str(form.get("number", "")).strip()[:32]
    contact = str(form.get("contact", "")).strip()[:320]
    token = _csrf_token(request)

    def page(
        error: str | None, view: dict[str, object] | None, status: int = 200, confirmed: bool = False
    ) -> HTMLResponse:
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
            contact=contact if view else "",
            confirmed=confirmed,
        )

    sent = str(form.get("csrf_token", ""))
    if not sent or not secrets.compare_digest(sent, request.cookies.get(PORTAL_CSRF, "")):
        return page("csrf", None, 403)
    ip = request.client.host if request.client else "unknown"
    try:
        if form.get("action") == "confirm":
            # 答覆確認: the page said "resolved, awaiting your confirmation" but offered no way to give it.
            ticket = verified_ticket(db, number, contact, ip=ip, brand_id=brand.id)
            if ticket.status == "resolved":
                ticket_service.confirm_resolution(db, ticket, None)
            return page(None, progress_view(db, ticket), confirmed=ticket.status == "closed")
        view = customer_progress(db, number, contact, ip=ip, brand_id=brand.id)
    except TooManyRequests:
        return page("track_limited", None, 429)
    except NotFound:
        return page("track_nomatch", None, 404)
    return page(None, view)


# ---------------------------------------------------------------- call-back booking (預約回電)


def _video_of(brand: Brand, mode: str, sign: bool) -> VideoRequest | None:
    # Video is offered only where the brand has a video provider; otherwise the page stays a phone booking.
    return VideoRequest(needs_sign_language=sign) if mode == "video" and video_template(brand) else None


@router.get("/{slug}/callback", response_class=HTMLResponse)
def callback_form(request: Request, slug: str, db: DB, mode: str = "phone", sign: bool = False) -> HTMLResponse:
    """Pick a call-back slot (brand's local times) and leave a number; `mode=video` books a video session."""
    brand = service.brand_by_slug(db, slug)
    token = _csrf_token(request)
    video = _video_of(brand, mode, sign)
    resp = render(
        request,
        None,
        "portal/callback.html",
        brand=brand,
        csrf=token,
        error=None,
        form={"submission_id": secrets.token_hex(16)},
        slots=cb_slots(db, brand, video=video),
        video=video,
        video_offered=video_template(brand) is not None,
        needs=NEEDS,
    )
    return _with_csrf(request, resp, token)


@router.post("/{slug}/callback", response_class=HTMLResponse, dependencies=[Depends(throttled(PUBLIC_BOOKINGS))])
def callback_book(request: Request, slug: str, db: DB, form: PostedForm, settings: SettingsDep) -> HTMLResponse:
    """Book the chosen slot; a taken slot or a bad number shows the form again with the reason."""
    brand = service.brand_by_slug(db, slug)
    fields = {k: str(form.get(k, "")).strip() for k in ("name", "phone", "topic", "slot", "submission_id")}
    video = _video_of(brand, str(form.get("mode", "phone")), form.get("sign") == "1")
    declared = [n for n in NEEDS if n in {str(v) for v in form.getlist("need")}]
    consent = form.get("need_consent") == "1"

    def again(error: str, status: int = 422) -> HTMLResponse:
        return render(
            request,
            None,
            "portal/callback.html",
            status=status,
            brand=brand,
            csrf=_csrf_token(request),
            error=error,
            form={**fields, "needs": declared},
            slots=cb_slots(db, brand, video=video),
            video=video,
            video_offered=video_template(brand) is not None,
            needs=NEEDS,
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
    if declared and not consent:
        return again("acc_consent")
    if video is None and HEARING & set(declared):
        return again("acc_phone", 409)
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
            video=video,
            declared=DeclareNeeds(needs=declared, consent=consent) if declared else None,
            requester=cb_requester(client_ip(request), settings),  # the cap counts this client's bookings apart
            submission_id=fields["submission_id"][:64] or None,  # a double tap or a resent form books once
        )
    except TooManyRequests:
        return again("cb_limit", 429)
    except Conflict as exc:
        return again("acc_phone" if exc.key == "uix_callback_deaf" else "cb_slot", 409)
    except InvalidInput:
        return again("cb_phone")
    number = cb_ticket_number(db, cb)
    local = format_datetime(at, _locale(request, brand), brand.timezone, "long")
    return render(
        request,
        None,
        "portal/callback_booked.html",
        brand=brand,
        number=number,
        local=local,
        zone=brand.timezone,
        video_link=video_url(brand, cb),
    )
