"""A real HTTP server on 127.0.0.1 that records requests and answers with canned responses (LINE / Graph stubs)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.channels.outbound import allow_port, revoke


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Canned:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StubServer:
    """Records every request; answers from per-route queues of canned responses (`not_found` otherwise)."""

    not_found = Canned(404, b'{"message":"Not found"}', {"Content-Type": "application/json"})

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], list[Canned]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                canned = stub._record_and_pick(
                    Recorded(
                        self.command,
                        split.path,
                        parse_qs(split.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                if canned.delay:
                    time.sleep(canned.delay)
                self.send_response(canned.status)
                for key, value in canned.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that time out close the socket mid-response; that's expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self._allowed = allow_port(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(
        self,
        method: str,
        path: str,
        status: int = 200,
        json_body: Any = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        with self._lock:
            self._routes.setdefault((method, path), []).append(Canned(status, body, all_headers, delay))

    def _record_and_pick(self, recorded: Recorded) -> Canned:
        with self._lock:
            self.requests.append(recorded)
            queue = self._routes.get((recorded.method, recorded.path))
            if queue:
                return queue.pop(0)
        return self.not_found

    def close(self) -> None:
        revoke(self._allowed)
        self.httpd.shutdown()
        self.httpd.server_close()
