"""Local HTTP servers speaking the LINE / Messenger / callback APIs, for outbound tests over real sockets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.channels.outbound import allow_port, revoke

Responder = Callable[["Recorded"], tuple[int, dict[str, str], bytes] | None]


class Recorded:
    """One request the fake server received."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        """Body as JSON."""
        return json.loads(self.body)


class FakeApi:
    """A threaded HTTP server recording requests; `responder` may override the default answer."""

    def __init__(self, default: Callable[[Recorded], tuple[int, dict[str, str], bytes]]) -> None:
        self.requests: list[Recorded] = []
        self.responder: Responder | None = None
        self.default = default
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(rec)
                answer = outer.responder(rec) if outer.responder else None
                status, headers, payload = answer or outer.default(rec)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._allowed = allow_port(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        revoke(self._allowed)
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        """Request paths in order."""
        return [r.path.split("?")[0] for r in self.requests]


def line_default(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
    """LINE Messaging API happy path (reply, push, profile, content)."""
    if rec.path.endswith("/content"):
        return 200, {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff\xe0fake-jpeg"
    if "/profile/" in rec.path:
        return 200, {"Content-Type": "application/json"}, json.dumps({"userId": "U1", "displayName": "雅婷"}).encode()
    n = len(rec.json().get("messages", [])) if rec.body else 0
    sent = [{"id": f"line-{len(rec.body)}-{i}", "quoteToken": "q"} for i in range(n)]
    return (
        200,
        {"Content-Type": "application/json", "x-line-request-id": "req-1"},
        json.dumps({"sentMessages": sent}).encode(),
    )


def messenger_default(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
    """Graph Send API happy path."""
    if rec.method == "GET":
        return 200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\nfake"
    body = rec.json()
    mid = f"m_out_{len(rec.body)}"
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"recipient_id": body["recipient"]["id"], "message_id": mid}).encode(),
    )
