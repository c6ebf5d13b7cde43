"""WebSocket endpoint: authenticated topic subscriptions over the realtime hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from kefu.auth import service as auth_service
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation
from kefu.core.access import find_in_brand
from kefu.core.config import Settings
from kefu.core.db import SessionFactory, session_scope
from kefu.core.events import Event, get_bus
from kefu.core.realtime import Hub, Subscriber
from kefu.customers.models import Customer
from kefu.privacy.masking import can_reveal
from kefu.sla.notifications import CASE_READS
from kefu.tickets.models import Ticket
from kefu.web.routing import Router
from kefu.web.wsframes import close_failed, receive_json, sender

router = Router()
MAX_TOPICS = 200
# Topics one connection may have looked up (allowed or not): a refused id is a query too, and re-asking for refused
# ids frame after frame must not turn a socket into a query pump. The console asks for a handful per connection.
MAX_LOOKUPS = 4 * MAX_TOPICS


def _origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # non-browser client; browsers always send Origin
    allowed = {o.rstrip("/") for o in settings.allowed_origins}
    allowed.add(settings.base_url.rstrip("/"))
    host = ws.headers.get("host")
    if host:
        scheme = "https" if ws.url.scheme == "wss" else "http"
        allowed.add(f"{scheme}://{host}")
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in allowed


def _authenticate(factory: SessionFactory, ws: WebSocket, settings: Settings) -> Principal | None:
    ip = ws.client.host if ws.client else None
    with session_scope(factory) as session:
        token = ws.query_params.get("token")
        auth = ws.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if token:
            return auth_service.resolve_token(session, token, ip)
        cookie = ws.cookies.get(settings.session_cookie)
        if cookie:
            resolved = auth_service.resolve_session(session, cookie, ip)
            return resolved[0] if resolved else None
    return None


def _authorize_topics(factory: SessionFactory, principal: Principal, topics: list[str]) -> tuple[list[str], list[str]]:
    """Split requested topics into allowed and denied for this principal."""
    ok: list[str] = []
    denied: list[str] = []
    models: dict[str, type[Any]] = {
        "brand": Brand,
        "conversation": Conversation,
        "ticket": Ticket,
        "customer": Customer,
    }
    perms = {
        "brand": "conversations:read",
        "conversation": "conversations:read",
        "ticket": "tickets:read",
        "customer": "customers:read",
    }
    with session_scope(factory) as session:
        for topic in topics[:MAX_TOPICS]:
            kind, _, rest = topic.partition(":")
            ident = rest.split(":", 1)[0]
            if kind == "agent":
                # An agent's own topic: notifications, call pop-ups, replies on their conversations: case data, so a
                # token scoped to other work (kb:read) is refused it like the notification list (CASE_READS).
                mine = rest == str(principal.agent_id) and any(principal.can(p) for p in CASE_READS)
                (ok if mine else denied).append(topic)
                continue
            model = models.get(kind)
            if model is None or not ident.isdigit() or not principal.can(perms[kind]):
                denied.append(topic)
                continue
            if kind == "brand":
                visible = session.get(Brand, int(ident)) is not None and principal.can_access_brand(int(ident))
            else:
                visible = find_in_brand(session, model, int(ident), principal) is not None
            if not visible:
                denied.append(topic)
            else:
                ok.append(topic)
    return ok, denied


PRESENCE_STATES = frozenset({"viewing", "typing", "idle", "left"})
# At most PRESENCE_BURST relayed updates per PRESENCE_WINDOW seconds and connection (replies to a newcomer included).
PRESENCE_BURST = 10
PRESENCE_WINDOW = 2.0


def _topic_list(msg: dict[str, Any]) -> list[str]:
    """The frame's `topics` (strings in a list); anything else names no topic."""
    topics = msg.get("topics")
    return [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else []


def _presence(principal: Principal, topics: set[str], msg: dict[str, Any]) -> dict[str, Any]:
    """Relay "agent X is viewing / typing in conversation N" to the other agents on that conversation.

    Ephemeral (never stored): it goes straight onto the bus, and only for a conversation this connection was allowed
    to subscribe to, so the brand and permission checks of `subscribe` apply. Ids only: names come from the page.
    """
    conv_id, state = msg.get("conversation_id"), msg.get("state")
    topic = f"conversation:{conv_id}"
    if (
        not isinstance(conv_id, int)
        or not isinstance(state, str)
        or state not in PRESENCE_STATES
        or topic not in topics
    ):
        return {"op": "error", "detail": "presence needs a subscribed conversation_id and a known state"}
    if not principal.can("conversations:write"):
        return {"op": "error", "detail": "presence is for agents who may reply"}
    get_bus().publish(
        Event(
            type="agent.presence",
            data={"conversation_id": conv_id, "agent_id": principal.agent_id, "state": state},
            topics=(topic,),
        )
    )
    return {"op": "presence", "state": state}


RECHECK_SECONDS = 60.0
REVOKED_MARK = f'"type": "{auth_service.REVOKED_EVENT}"'


def _revokes(payload: str, principal: Principal) -> bool | None:
    """None for an ordinary event; else whether this auth.revoked event ends the connection of `principal`."""
    try:
        event = json.loads(payload)["event"]
    except (ValueError, KeyError, TypeError):
        return None
    if event.get("type") != auth_service.REVOKED_EVENT:
        return None
    data = event.get("data") or {}
    topics = set(event.get("topics") or ())
    if f"auth:{principal.via}:{principal.credential_id}" in topics:
        return True
    if f"auth:agent:{principal.agent_id}" not in topics:
        return False
    if principal.via == "session":
        return bool(data.get("sessions")) and data.get("keep_session_id") != principal.credential_id
    return bool(data.get("tokens"))


def _still_valid(factory: SessionFactory, ws: WebSocket, settings: Settings, principal: Principal) -> bool:
    """The connection's credential still resolves, to the same role, permissions and brands it was opened with."""
    again = _authenticate(factory, ws, settings)

    def who(p: Principal) -> tuple[object, ...]:
        return (p.credential_id, p.via, p.role, p.permissions, p.brand_ids)

    return again is not None and who(again) == who(principal)


@router.websocket("/api/v1/ws")
async def websocket(ws: WebSocket) -> None:
    """Subscribe with {"op":"subscribe","topics":[...]}; events arrive as {"op":"event","event":{...}}."""
    app = ws.app
    settings: Settings = app.state.settings
    db: SessionFactory = app.state.session_factory
    hub: Hub = app.state.hub
    if not _origin_allowed(ws, settings):
        await ws.close(code=4403, reason="origin not allowed")
        return
    principal = await run_in_threadpool(_authenticate, db, ws, settings)
    if principal is None:
        await ws.close(code=4401, reason="authentication required")
        return
    await ws.accept()
    sub = Subscriber(reveal=can_reveal(principal))  # others get events through the privacy masker
    # Internal topics (clients cannot subscribe to them, nor unsubscribe from them): revocation of this credential
    # or of the whole account.
    internal = frozenset(auth_service.revocation_topics(principal))
    sub.topics.update(internal)
    hub.add(sub)

    async def pump() -> None:
        recheck_at = time.monotonic() + RECHECK_SECONDS
        while True:
            try:
                wait = max(0.0, recheck_at - time.monotonic())
                payload: str | None = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                payload = None
            verdict = _revokes(payload, principal) if payload is not None and REVOKED_MARK in payload else None
            if verdict:
                await ws.close(code=4401, reason="credential revoked")
                return
            if verdict is False or time.monotonic() >= recheck_at:
                # On a schedule, busy or idle (revocations the bus could not announce: expiry, a database-side
                # change, a Redis outage), and when this agent's account changed without revoking this credential
                # (role, brands): the socket keeps the principal it was opened with, so a changed one must reconnect.
                recheck_at = time.monotonic() + RECHECK_SECONDS
                if not await run_in_threadpool(_still_valid, db, ws, settings, principal):
                    await ws.close(code=4401, reason="credential revoked or account changed")
                    return
            if payload is None or verdict is False:
                continue  # verdict False: an internal announcement, never forwarded
            if sub.overflowed:
                await ws.close(code=4008, reason="client too slow; resume from last id")
                return
            await ws.send_text(payload)

    task = sender(ws, pump())
    presence_window, presence_count = 0.0, 0
    refused: set[str] = set()  # answered from here when asked again: no second lookup
    lookups = 0
    try:
        await ws.send_text(json.dumps({"op": "hello", "agent_id": principal.agent_id}))
        while True:
            msg = await receive_json(ws)
            if msg is None:
                continue
            op = msg.get("op")
            if op == "ping":
                await ws.send_text('{"op":"pong"}')
            elif op == "subscribe":
                asked = list(dict.fromkeys(_topic_list(msg)))
                held = [t for t in asked if t in sub.topics and t not in internal]
                wanted = [t for t in asked if t not in sub.topics and t not in refused]
                # MAX_TOPICS per connection, not per frame: frame after frame must not grow it without end.
                room = min(MAX_TOPICS + len(internal) - len(sub.topics), MAX_LOOKUPS - lookups)
                room = max(0, room)
                lookups += len(wanted[:room])
                ok, denied = await run_in_threadpool(_authorize_topics, db, principal, wanted[:room])
                refused.update(denied)
                ok = held + ok
                denied = [t for t in asked if t not in ok]  # refused now, before, over the cap, or internal
                sub.topics.update(ok)
                await ws.send_text(json.dumps({"op": "subscribed", "topics": ok, "denied": denied}))
            elif op == "presence":
                now = time.monotonic()
                if now - presence_window >= PRESENCE_WINDOW:
                    presence_window, presence_count = now, 0
                presence_count += 1
                if presence_count > PRESENCE_BURST:
                    continue  # a chatty client is throttled silently; a later state change gets through
                # The bus may be Redis: publish off the event loop.
                answer = await run_in_threadpool(_presence, principal, set(sub.topics), msg)
                await ws.send_text(json.dumps(answer))
            elif op == "unsubscribe":
                gone = [t for t in _topic_list(msg) if t not in internal]
                sub.topics.difference_update(gone)
                await ws.send_text(json.dumps({"op": "unsubscribed", "topics": gone}))
            else:
                await ws.send_text(json.dumps({"op": "error", "detail": f"unknown op {op!r}"}))
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # e.g. the database gone during a subscribe's lookups: the client reconnects
        await close_failed(ws, exc)
    finally:
        hub.remove(sub)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
