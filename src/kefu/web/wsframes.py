"""The one reader of client WebSocket frames (agent console and widget): size, type and JSON shape checked here.

A hostile frame — binary, too large, not JSON, nested deeper than the JSON parser's stack (RecursionError), not an
object — must not drop the socket or its subscriptions: it gets an error frame, or for an oversized frame a close
with 1009 (message too big), as RFC 6455 defines.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from kefu.core.textrules import clean_value, strict_json
from kefu.security.asgi import KIB, JsonDepthScanner, JsonTooDeep

# Client frames are small commands (subscribe, presence, a chat message of at most a few thousand characters);
# uvicorn's own cap (16 MiB) would let each socket make the server parse 16 MiB per frame.
MAX_FRAME_BYTES = 256 * KIB
TOO_BIG = 1009


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
