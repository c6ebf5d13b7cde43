"""Public message board: a bilingual form page and its submission endpoint (form or JSON)."""

from __future__ import annotations

import html
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, throttled
from kefu.channels.board.service import SUBMISSIONS, submit
from kefu.channels.service import get_inbox
from kefu.core.errors import InvalidInput
from kefu.security.asgi import csp_nonce
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


PAGE = """<!doctype html>
<html lang="zh-Hant"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} 留言板 / Message board</title>
<style nonce="{nonce}">body{{font-family:system-ui,"PingFang TC","Microsoft JhengHei",sans-serif;
max-width:40rem;margin:2rem auto;padding:0 1rem}}
label{{display:block;margin-top:1rem}}input,select,textarea{{width:100%;padding:.5rem;font:inherit}}
.hp{{position:absolute;left:-5000px}}button{{margin-top:1rem;padding:.6rem 1.5rem}}</style></head>
<body><h1>{title} 留言板 <small>Message board</small></h1>
<form method="post" action="">
<input type="hidden" name="submission_id" value="{sid}">
<label>姓名 Name<input name="name" required maxlength="200"></label>
<label>聯絡方式（Email 或電話）Contact (email or phone)<input name="contact" required maxlength="320"></label>
<label>問題類別 Category<select name="category">{options}</select></label>
<label>留言內容 Message<textarea name="message" rows="6" required maxlength="20000"></textarea></label>
<label class="hp">Website<input name="website" tabindex="-1" autocomplete="off"></label>
<button type="submit">送出 Submit</button></form></body></html>"""

THANKS = """<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8"><title>已收到 / Received</title>
<style nonce="{nonce}">body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}}</style></head>
<body>
<h1>感謝您的留言 / Thank you</h1><p>案件編號 Case number: <strong>{number}</strong></p>
<p>客服人員將盡快與您聯繫。We will get back to you soon.</p></body></html>"""

DEFAULT_CATEGORIES = [("general", "一般諮詢 General"), ("order", "訂單 Order"), ("complaint", "申訴 Complaint")]


@router.get("/{inbox_id}", response_class=HTMLResponse)
def board_page(inbox_id: int, request: Request, db: DB) -> HTMLResponse:
    """The public form."""
    inbox = get_inbox(db, inbox_id, "board")
    cats: list[Any] = (inbox.config or {}).get("categories") or DEFAULT_CATEGORIES
    options = "".join(
        f'<option value="{html.escape(str(c[0]))}">{html.escape(str(c[1]))}</option>' for c in cats if len(c) == 2
    )
    nonce = csp_nonce(request.scope)  # the CSP itself is set for every HTML response by kefu.security.asgi
    body = PAGE.format(title=html.escape(inbox.name), sid=uuid.uuid4().hex, options=options, nonce=nonce)
    return HTMLResponse(body)


@router.post("/{inbox_id}", status_code=201, response_model=None, dependencies=[Depends(throttled(SUBMISSIONS))])
async def board_submit(inbox_id: int, request: Request, db: DB) -> JSONResponse | HTMLResponse:
    """Create a conversation and a ticket from a board post (HTML form → thank-you page; JSON → JSON)."""
    is_form = request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/"))
    try:
        parsed = dict(await request.form()) if is_form else await request.json()
    except ValueError as exc:  # malformed JSON or form body
        raise InvalidInput("The request body is not valid JSON or form data.") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput("A JSON object is required.")
    raw: dict[str, Any] = parsed
    try:
        post = BoardPost.model_validate({k: v for k, v in raw.items() if isinstance(v, str)})
    except ValidationError as exc:
        raise InvalidInput("Please fill in name, contact and message. 請填寫姓名、聯絡方式與留言。") from exc
    inbox = await run_in_threadpool(get_inbox, db, inbox_id, "board")
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
        return HTMLResponse(
            THANKS.format(number=html.escape(result.ticket.number), nonce=csp_nonce(request.scope)), status_code=201
        )
    return JSONResponse(out, status_code=201)
