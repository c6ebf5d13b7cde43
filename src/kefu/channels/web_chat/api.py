"""Widget endpoints: script, visitor session, messages, uploads, leave-a-message, and the visitor WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, throttled
from kefu.brands.models import Brand, Inbox
from kefu.channels.board.service import SUBMISSIONS, submit
from kefu.channels.service import get_inbox
from kefu.channels.web_chat import service
from kefu.channels.web_chat.token import Visitor, issue, new_visitor_id, verify
from kefu.core import catalog
from kefu.core.db import SessionFactory, session_scope
from kefu.core.errors import Forbidden, InvalidInput, NotFound, ProblemError, Unauthorized
from kefu.core.events import Event, get_bus
from kefu.core.realtime import Hub, Subscriber
from kefu.customers.accessibility import VISION, DeclareNeeds
from kefu.customers.claims import confirm_claim, read_claim
from kefu.web.forms import PostedForm
from kefu.web.i18n import translator
from kefu.web.routing import Router
from kefu.web.wsframes import close_failed, receive_json, sender

router = Router(prefix="/api/v1/widget", tags=["web chat"])
log = logging.getLogger("kefu.channels.web_chat")
STATIC = Path(__file__).parent / "static"
LOCALES = ("zh-TW", "zh-CN", "en")


WIDGET_PREFIX = "widget_"


@lru_cache(maxsize=1)
def widget_script() -> bytes:
    """widget.js with its texts filled in from the catalogs (every widget_* key, per locale)."""
    # Through the translator, so a branch's not yet converted strings_*.py table reaches the widget too.
    strings = {
        loc: {k.removeprefix(WIDGET_PREFIX): v for k, v in translator(loc).items() if k.startswith(WIDGET_PREFIX)}
        for loc in catalog.LOCALES
    }
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    filled = source.replace("/*KEFU_STRINGS*/{}", json.dumps(strings, ensure_ascii=False, separators=(",", ":")), 1)
    return filled.encode("utf-8")


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> Response:
    """The embeddable script: <script src=".../api/v1/widget/widget.js" data-brand="slug" data-inbox="id">."""
    return Response(
        widget_script(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@router.get("/widget.css", include_in_schema=False)
def widget_css() -> Response:
    """The widget's stylesheet (loaded by widget.js; no inline styles, so pages with a strict CSP can embed it)."""
    return Response(
        (STATIC / "widget.css").read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
    )


class SessionIn(BaseModel):
    """Open or resume a visitor session."""

    inbox_id: int
    brand: str | None = None
    visitor_token: str | None = None
    name: Annotated[str | None, Field(max_length=200)] = None
    email: Annotated[str | None, Field(max_length=320)] = None
    locale: str | None = None


class SessionOut(BaseModel):
    """The visitor's token and where they are."""

    visitor_token: str
    conversation_id: int | None
    online: bool
    locale: str
    greeting: str | None
    brand_name: str = ""
    prechat: bool = False
    timezone: str = ""  # the brand's IANA zone: message times read as on the help centre, in e-mails and SMS


def _visitor(db: Session, token: str | None) -> tuple[Visitor, Inbox]:
    visitor = verify(token)
    if visitor is None:
        raise Unauthorized.said("err_care_visitor_token")
    return visitor, get_inbox(db, visitor.inbox_id, "web_chat")


@router.post("/session", response_model=SessionOut, dependencies=[Depends(throttled(service.SESSIONS))])
def open_session(body: SessionIn, db: DB) -> SessionOut:
    """Issue a visitor token (or keep a valid one) for a web-chat inbox."""
    inbox = get_inbox(db, body.inbox_id, "web_chat")
    brand = db.get(Brand, inbox.brand_id)
    assert brand is not None
    if body.brand and body.brand != brand.slug:
        raise NotFound.said("err_channels_inbox_id_not_found", inbox_id=body.inbox_id)
    visitor = verify(body.visitor_token)
    if visitor is None or visitor.inbox_id != inbox.id:
        visitor = verify(issue(inbox.id, new_visitor_id()))
    assert visitor is not None
    service.link_contact(db, inbox, visitor, body.name, body.email)
    conv = service.find_conversation(db, visitor)
    cfg = inbox.config or {}
    locale = (
        body.locale
        if body.locale in LOCALES
        else (brand.default_locale if brand.default_locale in LOCALES else "zh-TW")
    )
    greetings = cfg.get("greeting") or {}
    return SessionOut(
        visitor_token=issue(inbox.id, visitor.visitor_id),
        conversation_id=conv.id if conv else None,
        online=not bool(cfg.get("offline")),
        locale=locale,
        greeting=greetings.get(locale) if isinstance(greetings, dict) else (greetings or None),
        brand_name=brand.name,
        timezone=brand.timezone or "",
        prechat=bool(cfg.get("prechat")) and conv is None and not (body.name or body.email),
    )


def _claim_page(request: Request, state: str, status: int = 200, **data: Any) -> Response:
    from kefu.web.pages import render

    resp = render(request, None, "claim_verified.html", status=status, state=state, ok=state != "bad", **data)
    resp.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the claim token
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/verify", include_in_schema=False)
def verify_claim_form(request: Request, db: DB, token: str = "", lang: str | None = None) -> Response:
    """The link mailed to a claimed address: a page asking to confirm; opening it changes nothing.

    Mail scanners and link previews fetch links by GET, and the claim may have been typed by someone else: merging
    on GET would hand that person's chat this customer's tickets without anyone deciding to.
    """
    claim = read_claim(token)
    if claim is None:
        return _claim_page(request, "bad", 422)
    brand = db.get(Brand, claim.brand_id)
    fallback = lang if lang in LOCALES else (brand.default_locale if brand else None)
    return _claim_page(request, "confirm", token=token, lang=lang if lang in LOCALES else "", page_locale=fallback)


@router.post("/verify", include_in_schema=False)
def verify_claim(request: Request, db: DB, form: PostedForm) -> Response:
    """The owner of the address confirms: proves the claim, then the visitor joins that customer (a page)."""
    from kefu.web.pages import same_origin

    if not same_origin(request):
        raise Forbidden.said("err_webchat_cross_site")
    lang = str(form.get("lang") or "")
    try:
        customer = confirm_claim(db, str(form.get("token") or "")[:4096])
    except InvalidInput:
        return _claim_page(request, "bad", 422)
    brand = db.get(Brand, customer.brand_id)
    fallback = lang if lang in LOCALES else (customer.locale or (brand.default_locale if brand else None))
    return _claim_page(request, "ok", page_locale=fallback)


class VisitorMessage(BaseModel):
    """A visitor's message; client_id makes retries idempotent."""

    body: Annotated[str, Field(max_length=10_000)] = ""
    client_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(default_factory=lambda: uuid.uuid4().hex)
    attachment_ids: list[int] = Field(default_factory=list, max_length=10)
    name: Annotated[str | None, Field(max_length=200)] = None
    # The widget's language (from the page or the browser): the bot's replies follow it when the text alone cannot
    # tell ("你好" is both Traditional and Simplified Chinese).
    locale: Literal["zh-TW", "zh-CN", "en"] | None = None


VisitorHeader = Annotated[str | None, Header(alias="X-Kefu-Visitor")]


@router.post("/messages", status_code=201)
def visitor_message(body: VisitorMessage, db: DB, x_kefu_visitor: VisitorHeader = None) -> dict[str, Any]:
    """Send a message as the visitor (answered only once stored)."""
    visitor, inbox = _visitor(db, x_kefu_visitor)
    if not body.body.strip() and not body.attachment_ids:
        raise InvalidInput.said("err_webchat_empty")
    msg = service.post_message(
        db,
        inbox,
        visitor,
        text=body.body,
        client_id=body.client_id,
        attachment_ids=body.attachment_ids,
        name=body.name,
        locale=body.locale,
    )
    return service.public_messages(db, [msg])[0]


class VoteIn(BaseModel):
    """A "was this helpful?" vote."""

    helpful: bool


@router.post("/messages/{message_id}/feedback", status_code=204)
def visitor_feedback(message_id: int, body: VoteIn, db: DB, x_kefu_visitor: VisitorHeader = None) -> None:
    """Rate a bot answer in the visitor's own conversation (once; "not helpful" goes to the bot review queue)."""
    visitor, _ = _visitor(db, x_kefu_visitor)
    service.vote(db, visitor, message_id, body.helpful)


class NeedsOut(BaseModel):
    """The visitor's declared needs and whether important notices vibrate for them."""

    needs: list[str]
    haptic_notices: bool


@router.put("/accessibility", response_model=NeedsOut, dependencies=[Depends(throttled(service.NEEDS))])
def visitor_accessibility(body: DeclareNeeds, db: DB, x_kefu_visitor: VisitorHeader = None) -> NeedsOut:
    """The visitor declares accessibility needs (deaf, low vision…) with consent; an empty list withdraws them."""
    visitor, inbox = _visitor(db, x_kefu_visitor)
    needs = service.declare_needs(db, inbox, visitor, body)
    return NeedsOut(needs=needs, haptic_notices=bool(VISION & set(needs)))


@router.get("/messages")
def visitor_history(db: DB, after_id: int = 0, x_kefu_visitor: VisitorHeader = None) -> dict[str, Any]:
    """Messages after `after_id` (HTTP fallback of the WebSocket resume)."""
    visitor, _ = _visitor(db, x_kefu_visitor)
    return {"items": service.replay(db, visitor, after_id)}


@router.post("/attachments", status_code=201)
async def visitor_upload(
    file: UploadFile, request: Request, db: DB, x_kefu_visitor: VisitorHeader = None
) -> dict[str, Any]:
    """Upload an image or video (type- and size-checked); send its id with the next message."""
    visitor, inbox = await run_in_threadpool(_visitor, db, x_kefu_visitor)
    from kefu.channels.config import max_video_bytes

    data = await file.read(max_video_bytes() + 1)
    return await run_in_threadpool(
        service.upload, db, inbox, visitor, file.filename or "upload", file.content_type or "", data
    )


class LeaveMessage(BaseModel):
    """Offline form."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact: Annotated[str, Field(min_length=3, max_length=320)]
    message: Annotated[str, Field(min_length=1, max_length=10_000)]
    category: Annotated[str | None, Field(max_length=64)] = None
    submission_id: Annotated[str, Field(min_length=8, max_length=64)] = Field(default_factory=lambda: uuid.uuid4().hex)


@router.post("/leave-message", status_code=201, dependencies=[Depends(throttled(SUBMISSIONS))])
def leave_message(body: LeaveMessage, db: DB, x_kefu_visitor: VisitorHeader = None) -> dict[str, Any]:
    """Nobody online: the message becomes a ticket (and a conversation) for follow-up."""
    visitor, inbox = _visitor(db, x_kefu_visitor)
    result = submit(
        db,
        inbox,
        name=body.name,
        contact=body.contact,
        category=body.category,
        message=body.message,
        submission_id=f"{visitor.visitor_id}:{body.submission_id}",
    )
    return {"ticket_number": result.ticket.number, "conversation_id": result.conversation.id}


# ---------------------------------------------------------------- WebSocket


def _ws_open(factory: SessionFactory, visitor: Visitor) -> int | None:
    with session_scope(factory) as db:
        get_inbox(db, visitor.inbox_id, "web_chat")
        conv = service.find_conversation(db, visitor)
        return conv.id if conv else None


def _ws_replay(factory: SessionFactory, visitor: Visitor, after_id: int) -> list[dict[str, Any]]:
    with session_scope(factory) as db:
        return service.replay(db, visitor, after_id)


def _brand_locale(factory: SessionFactory, visitor: Visitor) -> str:
    """The visitor's brand's default language (for an error about a message that did not say the widget's)."""
    with session_scope(factory) as db:
        inbox = db.get(Inbox, visitor.inbox_id)
        brand = db.get(Brand, inbox.brand_id) if inbox is not None else None
        return brand.default_locale if brand is not None and brand.default_locale in LOCALES else catalog.DEFAULT_LOCALE


def _visitor_detail(exc: Exception, locale: str) -> str:
    """What an anonymous visitor may read of a failed message, in their language: never a database's text."""
    if isinstance(exc, ProblemError):
        # Before a said error's own text: the widget resends these by itself, and these two texts say so.
        if exc.status == 429:
            return catalog.gettext("err_webchat_busy", locale)
        if exc.status >= 500:
            return catalog.gettext("err_webchat_retry", locale)
        if exc.key is not None:
            return exc.detail_in(locale)
        log.info("widget message refused: %s", exc.detail)  # our own English text, kept for the log only
        return catalog.gettext("err_webchat_invalid", locale)
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            if tuple(e["loc"]) == ("body",) and e["type"] == "string_too_long":
                return catalog.gettext("err_webchat_too_long", locale).format(max=e["ctx"]["max_length"])
        return catalog.gettext("err_webchat_invalid", locale)
    log.exception("widget message could not be stored")
    return catalog.gettext("err_webchat_retry", locale)


def _retriable(exc: Exception) -> bool:
    """Whether the same message may be stored on a later try (a busy database, a rate limit), not never (invalid)."""
    if isinstance(exc, ValidationError):
        return False
    return not isinstance(exc, ProblemError) or exc.status >= 500 or exc.status == 429


def _ws_post(
    factory: SessionFactory, visitor: Visitor, data: dict[str, Any], watch: Callable[[int], None]
) -> dict[str, Any]:
    body = VisitorMessage.model_validate(data)
    with session_scope(factory) as db:
        inbox = get_inbox(db, visitor.inbox_id, "web_chat")
        msg = service.post_message(
            db,
            inbox,
            visitor,
            text=body.body,
            client_id=body.client_id,
            attachment_ids=body.attachment_ids,
            name=body.name,
            locale=body.locale,
        )
        # Subscribed before the commit: a first message opens the conversation, and the bot's answer may be written
        # and published by a job thread before this thread is back on the event loop (it was then pushed to nobody).
        watch(msg.conversation_id)
        return service.public_messages(db, [msg])[0]


def _ws_message(factory: SessionFactory, visitor: Visitor, message_id: int) -> dict[str, Any] | None:
    with session_scope(factory) as db:
        return service.visitor_message(db, visitor, message_id)


AGENT_NAME_TTL = 30.0
_agent_names: dict[int, tuple[str | None, float]] = {}


def _agent_name(factory: SessionFactory, agent_id: int) -> str | None:
    from kefu.auth.models import Agent

    with session_scope(factory) as db:
        agent = db.get(Agent, agent_id)
        return agent.name if agent is not None else None


async def _live_agent_message(factory: SessionFactory, d: dict[str, Any]) -> dict[str, Any] | None:
    """A plain agent text reply built from its event, as `service.public_messages` would render it; else None.

    Such a reply has no rich rendering, buttons or notice, so reading it back from the database per visitor and
    message (a thread-pool hop and four queries) only added latency; the agent's name is cached for seconds.
    Ownership needs no check: the socket only subscribes to its own conversation's public topic.
    """
    if d.get("sender_type") != "agent" or d.get("content_type") != "text" or d.get("attachments"):
        return None
    item: dict[str, Any] = {
        "id": d["id"],
        "conversation_id": d["conversation_id"],
        "sender_type": "agent",
        "body": d["body"],
        "content_type": "text",
        "attachments": d["attachments"],
        "created_at": d["created_at"],
    }
    agent_id = d.get("agent_id")
    if isinstance(agent_id, int):
        now = time.monotonic()
        cached = _agent_names.get(agent_id)
        if cached is None or now - cached[1] > AGENT_NAME_TTL:
            cached = (await run_in_threadpool(_agent_name, factory, agent_id), now)
            _agent_names[agent_id] = cached
        if cached[0] is not None:
            item["sender_name"] = cached[0]
    return item


def _last_id(value: object) -> int:
    """The client's resume point; anything but a whole number means "from the start"."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# How often an open visitor socket re-applies the HTTP routes' rule (`_visitor`: the token verifies, the inbox is an
# active web-chat inbox), so neither an expired token nor a deactivated inbox keeps a socket replaying and relaying.
RECHECK_SECONDS = 60.0


def _still_valid(factory: SessionFactory, token: str | None) -> bool:
    with session_scope(factory) as db:
        try:
            _visitor(db, token)
        except (Unauthorized, NotFound):
            return False
    return True


@router.websocket("/ws")
async def visitor_ws(ws: WebSocket) -> None:
    """Visitor realtime: {"op":"resume","last_id":N} replays what was missed, then live messages and typing."""
    factory: SessionFactory = ws.app.state.session_factory
    hub: Hub = ws.app.state.hub
    token = ws.query_params.get("token")
    visitor = verify(token)
    if visitor is None:
        await ws.close(code=4401, reason="visitor token required")
        return
    try:
        conv_id = await run_in_threadpool(_ws_open, factory, visitor)
    except NotFound:
        await ws.close(code=4404, reason="inbox not found")
        return
    await ws.accept()
    sub = Subscriber(reveal=True)  # topics are the visitor's own conversation: their own words, unmasked
    hub.add(sub)
    lock = asyncio.Lock()
    seen: set[int] = set()

    checked_at, closed = time.monotonic(), False

    async def still_open(*, now: bool = False) -> bool:
        """Recheck the token and inbox when due (or `now`); close with 4401 when they no longer hold."""
        nonlocal checked_at, closed
        if not closed and (now or time.monotonic() - checked_at >= RECHECK_SECONDS):
            checked_at = time.monotonic()
            if not await run_in_threadpool(_still_valid, factory, token):
                closed = True
                await ws.close(code=4401, reason="visitor token expired or inbox closed")
        return not closed

    def watch(cid: int | None) -> None:
        if cid is not None:
            sub.topics.add(f"conversation:{cid}:public")

    async def send_message(m: dict[str, Any]) -> None:
        if m["id"] in seen:
            return  # replay and live delivery overlap at the seam; each id goes out once
        seen.add(m["id"])
        await ws.send_text(json.dumps({"op": "message", "message": m}, ensure_ascii=False))

    async def pump() -> None:
        while True:
            wait = max(0.0, checked_at + RECHECK_SECONDS - time.monotonic())
            try:
                raw: str | None = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                raw = None  # an idle socket is rechecked on schedule too
            if not await still_open():
                return
            if raw is None:
                continue
            if sub.overflowed:
                await ws.close(code=4008, reason="client too slow; resume from last id")
                return
            event = json.loads(raw)["event"]
            async with lock:
                if event["type"] == "message.created" and not event["data"].get("is_note"):
                    d = event["data"]
                    if d["id"] in seen:
                        continue
                    # Otherwise read back from the database: rendering (rich answers) and buttons are decided there.
                    m = await _live_agent_message(factory, d)
                    if m is None:
                        m = await run_in_threadpool(_ws_message, factory, visitor, int(d["id"]))
                    if m is not None:
                        await send_message(m)
                elif event["type"] == "typing" and event["data"].get("sender_type") != "customer":
                    await ws.send_text(json.dumps({"op": "typing", **event["data"]}))

    watch(conv_id)
    task = sender(ws, pump())
    was_typing = False
    try:
        await ws.send_text(json.dumps({"op": "hello", "conversation_id": conv_id}))
        while True:
            msg = await receive_json(ws)
            if msg is None:
                continue
            op = msg.get("op")
            if not await still_open(now=op == "resume"):  # a resume reads history: the HTTP rule first
                break
            if op == "resume":
                async with lock:
                    # Subscribed first, then read: anything committed meanwhile is either replayed or queued.
                    conv_id = conv_id or await run_in_threadpool(_ws_open, factory, visitor)
                    watch(conv_id)
                    for m in await run_in_threadpool(_ws_replay, factory, visitor, _last_id(msg.get("last_id"))):
                        await send_message(m)
                    await ws.send_text(json.dumps({"op": "resumed", "conversation_id": conv_id}))
            elif op == "message":
                before = set(sub.topics)
                # Under the pump's lock: the message's own event then finds its id seen (the ack shows it) instead
                # of being read back and echoed to the socket that sent it.
                async with lock:
                    try:
                        stored = await run_in_threadpool(_ws_post, factory, visitor, msg, watch)
                    except Exception as exc:  # validation or storage: the client keeps it and retries
                        # A rolled-back conversation's id may go to another visitor's next (SQLite reuses row ids).
                        sub.topics.difference_update(set(sub.topics) - before)
                        # Told in the widget's language (each message carries it), else in the brand's default.
                        asked = msg.get("locale")
                        said = asked if isinstance(asked, str) and asked in LOCALES else None
                        if said is None:
                            said = await run_in_threadpool(_brand_locale, factory, visitor)
                        await ws.send_text(
                            json.dumps(
                                {
                                    "op": "error",
                                    "client_id": msg.get("client_id"),
                                    "detail": _visitor_detail(exc, said),
                                    "retry": _retriable(exc),
                                },
                                ensure_ascii=False,
                            )
                        )
                        continue
                    seen.add(stored["id"])
                    conv_id = stored["conversation_id"]
                    await ws.send_text(
                        json.dumps(
                            {"op": "ack", "client_id": msg.get("client_id"), "message": stored}, ensure_ascii=False
                        )
                    )
            elif op == "typing" and conv_id is not None:
                typing = bool(msg.get("typing", True))
                if typing == was_typing:
                    continue  # only a change reaches the agents: a repeated frame is not another bus publish
                was_typing = typing
                data = {"conversation_id": conv_id, "sender_type": "customer", "typing": typing}
                # Ephemeral: typing is not worth a transaction; agents listen on the conversation topic. The bus
                # may be Redis (and Redis may hang): publish off the event loop, as the agent socket's presence does.
                typing_event = Event(type="typing", data=data, topics=(f"conversation:{conv_id}",))
                await run_in_threadpool(get_bus().publish, typing_event)
            elif op == "ping":
                await ws.send_text('{"op":"pong"}')
            else:
                await ws.send_text(json.dumps({"op": "error", "detail": f"unknown op {op!r}"}))
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # e.g. the database gone during a resume's replay: the client reconnects, resumes
        await close_failed(ws, exc)
    finally:
        hub.remove(sub)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
