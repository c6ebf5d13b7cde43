"""The one reader of client WebSocket frames (agent console and widget): size, type and JSON shape checked here.

A hostile frame — binary, too large, not JSON, nested deeper than the JSON parser's stack (RecursionError), not an
object — must not drop the socket or its subscriptions: it gets an error frame, or for an oversized frame a close
with 1009 (message too big), as RFC 6455 defines. A socket sending faster than any client of ours does (a flood of
typing, resume or subscribe frames, each a bus publish or database read) is closed with 1008 (policy violation):
every socket gets the same frame budget here, since every socket reads through here.

A socket's own work failing (the database going away while it reads back an event or rechecks a credential) closes
it with 1013 (try again later; 1011 for anything else) through `close_failed`: both clients reconnect on a close and
resume from their last id, whereas a sender task that died quietly left a socket that answered pings and delivered
nothing, ever again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from kefu.core.db import transient_db_error
from kefu.core.textrules import clean_value, strict_json
from kefu.security.asgi import KIB, JsonDepthScanner, JsonTooDeep

# Client frames are small commands (subscribe, presence, a chat message of at most a few thousand characters);
# uvicorn's own cap (16 MiB) would let each socket make the server parse 16 MiB per frame.
MAX_FRAME_BYTES = 256 * KIB
TOO_BIG = 1009
# A token bucket per socket: a widget reconnecting with its queued messages, or the console subscribing a page's
# topics, stays far below it; a script looping on a frame does not.
FRAME_BURST = 60
FRAMES_PER_SECOND = 10.0
TOO_MANY = 1008
_BUDGET_KEY = "kefu.frame_budget"
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011
log = logging.getLogger("kefu.web")


@dataclass
class FrameBudget:
    """Frames one socket may still send: FRAME_BURST at once, refilled at FRAMES_PER_SECOND."""

    tokens: float = FRAME_BURST
    at: float = field(default_factory=time.monotonic)

    def take(self, now: float | None = None) -> bool:
        """Spend one frame; False when the socket is over its budget."""
        now = time.monotonic() if now is None else now
        self.tokens = min(float(FRAME_BURST), self.tokens + (now - self.at) * FRAMES_PER_SECOND)
        self.at = now
        if self.tokens < 1 - 1e-6:  # float steps of 1/rate must not fall a hair short of a whole frame
            return False
        self.tokens -= 1
        return True


async def receive_json(ws: WebSocket) -> dict[str, Any] | None:
    """The next frame as a JSON object, or None after answering a bad one (the socket stays open)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    raw = text.encode() if isinstance(text, str) else message.get("bytes") or b""
    if len(raw) > MAX_FRAME_BYTES:
        await ws.close(code=TOO_BIG, reason=f"frame larger than {MAX_FRAME_BYTES} bytes")
        raise WebSocketDisconnect(TOO_BIG)
    budget = ws.scope.setdefault(_BUDGET_KEY, FrameBudget())  # kept with the connection: no caller can forget it
    if not budget.take():
        await ws.close(code=TOO_MANY, reason="too many frames")
        raise WebSocketDisconnect(TOO_MANY)
    if text is None:
        await _error(ws, "text frames only")
        return None
    try:
        JsonDepthScanner().feed(raw)
        msg = strict_json(text)
    except (ValueError, RecursionError, JsonTooDeep):
        await _error(ws, "invalid JSON")
        return None
    if not isinstance(msg, dict):
        await _error(ws, "a frame is a JSON object")
        return None
    clean: dict[str, Any] = clean_value(msg)
    return clean  # the text rule of HTTP bodies (kefu.web.routing.CleanRequest) holds here too


async def _error(ws: WebSocket, detail: str) -> None:
    await ws.send_text(json.dumps({"op": "error", "detail": detail}))


async def close_failed(ws: WebSocket, exc: BaseException) -> None:
    """Close a socket whose work failed: 1013 while the database cannot serve (the client reconnects, resumes), else
    1011 with the error logged."""
    if transient_db_error(exc):
        code, reason = TRY_AGAIN_LATER, "service unavailable; reconnect and resume"
        log.warning("websocket %s closed: the database cannot serve (%s)", ws.url.path, type(exc).__name__)
    else:
        code, reason = INTERNAL_ERROR, "internal error; reconnect and resume"
        log.error("websocket %s failed", ws.url.path, exc_info=exc)
    with contextlib.suppress(Exception):  # already closed, or the client is gone
        await ws.close(code=code, reason=reason)


def sender(ws: WebSocket, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run a socket's sender (events out) as a task that closes the socket if it fails, never dies unnoticed."""

    async def run() -> None:
        try:
            await work
        except Exception as exc:
            await close_failed(ws, exc)

    return asyncio.create_task(run())
