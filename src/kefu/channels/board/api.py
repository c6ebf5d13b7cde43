"""Public message board: a form page in the visitor's language and its submission endpoint (form or JSON)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, throttled
from kefu.brands.models import Inbox
from kefu.brands.service import get_brand
from kefu.channels.board.service import SUBMISSIONS, submit
from kefu.channels.service import get_inbox
from kefu.core.errors import InvalidInput
from kefu.web.i18n import accept_locale, reader_locale
from kefu.web.problem_text import validation_errors
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/board", tags=["channels"])


class BoardPost(BaseModel):
    """A message left on the board."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact: Annotated[str, Field(min_length=3, max_length=320)]
    category: Annotated[str | None, Field(max_length=64)] = None
    message: Annotated[str, Field(min_length=1, max_length=20_000)]
    submission_id: Annotated[str, Field(min_length=8, max_length=64)] = Field(default_factory=lambda: uuid.uuid4().hex)
    website: str = ""  # honeypot: people leave it empty, form-filling bots do not


# Stored in one language; the page names them in the reader's (catalog bdcat_<key>, kefu.core.seedtext).
DEFAULT_CATEGORIES = [("general", "一般諮詢"), ("order", "訂單"), ("complaint", "申訴")]


@router.get("/{inbox_id}", response_class=HTMLResponse)
def board_page(inbox_id: int, request: Request, db: DB) -> HTMLResponse:
    """The public form, in the visitor's language (?lang=, the language cookie, Accept-Language, then the brand's)."""
    return _form(request, db, get_inbox(db, inbox_id, "board"))


def _form(
    request: Request, db: Session, inbox: Inbox, status: int = 200, values: dict[str, str] | None = None
) -> HTMLResponse:
    """The form page; re-shown after a rejected post with the reason in the page's language and the input kept."""
    from kefu.web.pages import render

    brand = get_brand(db, inbox.brand_id)
    cats: list[Any] = (inbox.config or {}).get("categories") or DEFAULT_CATEGORIES
    categories = [(str(c[0]), str(c[1])) for c in cats if len(c) == 2]
    return render(
        request,
        None,
        "portal/board.html",
        status=status,
        brand=brand,
        inbox=inbox,
        categories=categories,
        sid=(values or {}).get("submission_id") or uuid.uuid4().hex,
        values=values or {},
        error=status >= 400,
        page_locale=accept_locale(request.headers.get("accept-language")) or brand.default_locale,
    )


@router.post("/{inbox_id}", status_code=201, response_model=None, dependencies=[Depends(throttled(SUBMISSIONS))])
async def board_submit(inbox_id: int, request: Request, db: DB) -> JSONResponse | HTMLResponse:
    """Create a conversation and a ticket from a board post (HTML form → thank-you page; JSON → JSON)."""
    is_form = request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/"))
    try:
        parsed = dict(await request.form()) if is_form else await request.json()
    except ValueError as exc:  # malformed JSON or form body
        raise InvalidInput.said("err_channels_board_bad_body") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput.said("err_channels_board_not_object")
    raw: dict[str, Any] = parsed
    inbox = await run_in_threadpool(get_inbox, db, inbox_id, "board")
    fields = {k: v for k, v in raw.items() if isinstance(v, str)}
    try:
        post = BoardPost.model_validate(fields)
    except ValidationError as exc:
        if is_form:  # the visitor's browser: the form again, their text kept, the reason in the page's language
            kept = {k: fields.get(k, "")[:20_000] for k in ("name", "contact", "category", "message", "submission_id")}
            return await run_in_threadpool(_form, request, db, inbox, 422, kept)
        brand = await run_in_threadpool(get_brand, db, inbox.brand_id)
        # The reader's language, else the brand's: the summary and each field's reason (`loc`/`type` for programs).
        locale = reader_locale(request) or brand.default_locale
        errors = validation_errors(exc.errors(), locale)
        raise InvalidInput.said("uix_board_missing", locale=brand.default_locale).also(errors=errors) from exc
    if post.website:
        return JSONResponse({"status": "ok"}, status_code=201)  # silently drop the bot
    result = await run_in_threadpool(
        lambda: submit(
            db,
            inbox,
            name=post.name,
            contact=post.contact,
            category=post.category,
            message=post.message,
            submission_id=post.submission_id,
        )
    )
    out = {"ticket_number": result.ticket.number, "conversation_id": result.conversation.id}
    if is_form:
        from kefu.web.pages import render

        brand = await run_in_threadpool(get_brand, db, inbox.brand_id)
        return render(
            request,
            None,
            "portal/thanks.html",
            status=201,
            brand=brand,
            number=result.ticket.number,
            page_locale=brand.default_locale,
        )
    return JSONResponse(out, status_code=201)
