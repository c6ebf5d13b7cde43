"""Public customer portal pages: search the knowledge base (no login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.portal import service
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
