"""Pure-ASGI middleware: JSON answered to an authenticated principal without `pii:reveal` is masked by the contract.

Per-endpoint masking (kefu.privacy.masking) stays for precise formats; this is the backstop that makes a new route
safe by default. Non-JSON responses (files, CSV, HTML pages) pass through untouched and unbuffered; anonymous
requests (widget visitors, the portal) only ever receive the requester's own data and are not altered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.privacy.contract import mask_json
from kefu.privacy.masking import can_reveal


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for k, v in headers:
        if k.lower() == b"content-type":
            ct = v.split(b";", 1)[0].strip().lower()
            return ct == b"application/json" or ct.endswith(b"+json")
    return False


class PrivacyMiddleware:
    """Mask JSON responses of /api/ requests for principals who may not see personal data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer JSON bodies of API responses; mask them once the principal is known."""
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # The principal is known by now (dependencies ran before the handler answered): one who may see
                # personal data gets the response as it is, unbuffered, like a non-JSON one.
                principal = (scope.get("state") or {}).get("principal")
                if principal is None or can_reveal(principal) or not _is_json(message.get("headers", [])):
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if body:  # buffered only for a principal who may not see personal data
                body = _mask_body(body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, wrapped)


def _mask_body(body: bytes) -> bytes:
    try:
        doc: Any = json.loads(body)
    except ValueError:
        return body
    return json.dumps(mask_json(doc), ensure_ascii=False, separators=(",", ":")).encode()
