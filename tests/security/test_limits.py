"""Request-body limits at the ASGI layer (declared and chunked), the JSON nesting limit, and their 4xx answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from kefu.security.asgi import DEFAULT_BODY_LIMIT, MAX_JSON_DEPTH, WEBHOOK_BODY_LIMIT, WebSecurity, body_limit


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_limits_per_route() -> None:
    assert body_limit("/api/v1/channels/line/3/webhook") == WEBHOOK_BODY_LIMIT
    assert body_limit("/api/v1/widget/attachments") > 10 * DEFAULT_BODY_LIMIT
    assert body_limit("/api/v1/tickets") == DEFAULT_BODY_LIMIT


def test_oversized_webhook_refused_before_reading(client: Any) -> None:
    big = b"{" + b" " * (WEBHOOK_BODY_LIMIT + 10) + b"}"
    r = client.post("/api/v1/channels/line/1/webhook", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")


def test_chunked_upload_without_length_is_cut_off(client: Any) -> None:
    r = client.post(
        "/api/v1/channels/messenger/1/webhook",
        content=_chunks(WEBHOOK_BODY_LIMIT * 3),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    r = client.post("/api/v1/tickets", content=_chunks(DEFAULT_BODY_LIMIT * 2), headers={"Content-Type": "text/plain"})
    assert r.status_code in (401, 413)  # anonymous: either refusal, never a read of the whole body
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    page = client.post("/login", content=_chunks(DEFAULT_BODY_LIMIT * 2), headers=form)
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")


def test_streaming_stops_reading_at_the_limit() -> None:
    """A 400 MB chunked body: the middleware pulls only limit + one chunk before answering 413."""
    pulled = 0
    chunk = b"x" * (1024 * 1024)

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 400}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        await Request(scope, receive).body()  # an app that reads everything

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/channels/line/1/webhook", "headers": [], "state": {}}

    async def run() -> None:
        from starlette.exceptions import HTTPException

        try:
            await WebSecurity(app)(scope, receive, send)
        except HTTPException as exc:  # the app's exception handler turns this into the 413 response
            assert exc.status_code == 413

    asyncio.run(run())
    assert pulled <= WEBHOOK_BODY_LIMIT // len(chunk) + 1


def test_deep_json_is_a_4xx(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    deep = "[" * 600 + "]" * 600
    r = client.post("/api/v1/tickets", content=deep, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    nested = json.dumps({"subject": "x", "custom": {"a": "[" * 5000}})  # brackets inside strings don't count
    r = client.post("/api/v1/tickets", content=nested, headers={**h, "Content-Type": "application/json"})
    assert r.status_code != 500 and "nested" not in r.text
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    r = client.post("/api/v1/tickets", content=ok, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422 and "nested" not in r.text  # parsed, then refused by validation


def test_depth_scan_in_one_or_several_chunks() -> None:
    """The last chunk's shortcut (count the brackets) and the byte scan give the same verdicts, split anywhere."""
    from kefu.security.asgi import JsonDepthScanner, JsonTooDeep

    limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    bodies = {
        limit: False,
        b"[" + limit + b"]": True,
        b'{"a": "' + b"[" * 500 + b'", "b": [1]}': False,  # brackets in a string
        b'{"a": "\\\\", "b": ' + b"{" * MAX_JSON_DEPTH + b"}" * MAX_JSON_DEPTH + b"}": True,  # an escaped backslash
    }
    for body, too_deep in bodies.items():
        for cut in (0, 1, 7, len(body) // 2, len(body)):
            scanner = JsonDepthScanner()
            try:
                scanner.feed(body[:cut])
                scanner.feed(body[cut:], last=True)
            except JsonTooDeep:
                refused = True
            else:
                refused = False
            assert refused is too_deep, (body[:40], cut)


def test_credentialed_answers_are_not_cached(client: Any, make: Any) -> None:
    h = make.token(make.agent())
    assert client.get("/api/v1/me", headers=h).headers["cache-control"] == "no-store"
    r = client.get("/login")
    assert "no-store" not in r.headers.get("cache-control", "") and r.headers["x-frame-options"] == "DENY"
