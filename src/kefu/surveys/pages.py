"""Public survey pages (signed link, no login): CSAT stars and campaign questionnaires."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, ProblemError
from kefu.surveys import service
from kefu.web.forms import PostedForm, lenient_int
from kefu.web.pages import public_locale, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/survey")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


def _csat_page(request: Request, db: DB, token: str, state: str | None = None, error: str = "") -> HTMLResponse:
    s, brand, number = service.csat_page(db, token)
    if state is None:
        state = "answered" if s.answered_at else ("expired" if utcnow() > s.expires_at else "form")
    return render(
        request,
        None,
        "surveys/csat.html",
        brand=brand,
        number=number,
        state=state,
        error=error,
        status=422 if error else 200,
    )


@router.get("/{token}", response_class=HTMLResponse)
def csat_form(request: Request, token: str, db: DB) -> HTMLResponse:
    """Five stars and a comment box."""
    return _csat_page(request, db, token)


@router.post("/{token}", response_class=HTMLResponse)
def csat_submit(request: Request, token: str, db: DB, form: PostedForm) -> HTMLResponse:
    """Store the answer (once) and thank the customer."""
    if not _same_origin(request):
        raise Forbidden.said("err_surveys_cross_site")
    raw = str(form.get("rating", ""))
    try:
        service.answer_csat(db, service.csat_by_token(db, token), lenient_int(raw) or 0, str(form.get("comment", "")))
    except ProblemError as exc:
        if exc.status == 409:
            return _csat_page(request, db, token)
        return _csat_page(request, db, token, error=exc.detail_in(public_locale(request)))
    return _csat_page(request, db, token, state="thanks")


def _campaign_page(request: Request, db: DB, token: str, state: str | None = None, error: str = "") -> HTMLResponse:
    r, c, brand = service.campaign_page(db, token)
    if state is None:
        closed = c.status != "running" or (c.closes_at is not None and utcnow() > c.closes_at)
        state = "answered" if r.answered_at else ("expired" if closed else "form")
    return render(
        request,
        None,
        "surveys/campaign.html",
        brand=brand,
        campaign=c,
        state=state,
        error=error,
        status=422 if error else 200,
    )


@router.get("/c/{token}", response_class=HTMLResponse)
def campaign_form(request: Request, token: str, db: DB) -> HTMLResponse:
    """One 1–5 scale per dimension."""
    return _campaign_page(request, db, token)


@router.post("/c/{token}", response_class=HTMLResponse)
def campaign_submit(request: Request, token: str, db: DB, form: PostedForm) -> HTMLResponse:
    """Store the scores (once)."""
    if not _same_origin(request):
        raise Forbidden.said("err_surveys_cross_site")
    scores = {
        k[4:]: lenient_int(v) or 0 for k, v in form.items() if k.startswith("dim_") and lenient_int(v) is not None
    }
    r, c = service.recipient_by_token(db, token)
    try:
        service.answer_campaign(db, r, c, scores, str(form.get("comment", "")))
    except ProblemError as exc:
        if exc.status == 409:
            return _campaign_page(request, db, token)
        return _campaign_page(request, db, token, error=exc.detail_in(public_locale(request)))
    return _campaign_page(request, db, token, state="thanks")
