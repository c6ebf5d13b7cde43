"""The one ASGI layer every HTTP request passes: CSP with a per-response nonce, hardening headers, CORS for the
public prefixes, streaming request-body limits and a JSON nesting limit.

Hand-written rather than a library: the CSP must carry a nonce that templates read from the same request, and
the body limit must count bytes as they stream in (Content-Length can be absent with chunked uploads), which the
available middlewares (Starlette's, secure.py) don't do; both are small enough to audit here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
CORS_PUBLIC_PREFIXES = ("/api/v1/widget/", "/api/v1/public/")
HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
KIB = 1024
MIB = 1024 * KIB
DEFAULT_BODY_LIMIT = 1 * MIB  # JSON APIs and console/admin forms (largest field: a 100k-character reply)
WEBHOOK_BODY_LIMIT = 1 * MIB  # unauthenticated until the signature is checked, so kept small
MAX_JSON_DEPTH = 64
# Paths answered with problem+json (kefu.web.errors.API_PREFIXES); every other path is a page.
API_PATHS = ("/api/", "/healthz", "/openapi.json", "/static/")


_REPLY_WITH_FILES = re.compile(r"/(?:api/v1/channels|console)/conversations/\d+/messages")
_PORTAL_SUBMIT = re.compile(r"/portal/[^/]+/new")


def _kb_import_limit() -> int:
    from kefu.knowledge.bulk import MAX_FILE_BYTES  # the file size the import page and API promise, plus framing

    return MAX_FILE_BYTES + 256 * KIB


_KB_IMPORT = ("/api/v1/kb/import", "/api/v1/knowledge/import", "/admin/kb/import")


def _attachment_limit() -> int:
    from kefu.channels.config import max_video_bytes  # the widget's own per-file cap, plus multipart framing

    return max_video_bytes() + 256 * KIB


# (path prefix or predicate, limit in bytes or a function giving it); the first match wins, else the default.
BodyRule = tuple[Callable[[str], bool], Callable[[], int]]
BODY_LIMITS: list[BodyRule] = [
    (lambda p: p.startswith("/api/v1/channels/") and p.endswith("/webhook"), lambda: WEBHOOK_BODY_LIMIT),
    (lambda p: p == "/api/v1/widget/attachments", _attachment_limit),
    (lambda p: p.startswith(_KB_IMPORT), _kb_import_limit),
    # Agent replies with attachments (kefu.channels.media: at most 50 MB per message, plus multipart framing).
    (lambda p: _REPLY_WITH_FILES.fullmatch(p) is not None, lambda: 52 * MIB),
    # The help-centre ticket form: images, PDFs and videos (kefu.portal.service.UPLOAD_TOTAL_BYTES in all, 60 MB).
    (lambda p: _PORTAL_SUBMIT.fullmatch(p) is not None, lambda: 61 * MIB),
]


def body_limit(path: str) -> int:
    """Largest request body accepted on `path` (bytes)."""
    for match, limit in BODY_LIMITS:
        if match(path):
            return limit()
    return DEFAULT_BODY_LIMIT


class BodyTooLarge(HTTPException):
    """Raised from receive() once the streamed (or declared) body passes the route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body larger than {limit} bytes.")
        self.limit = limit

    @property
    def limit_mb(self) -> int:
        """The limit as people read it (whole MB; multipart framing allowance rounded away)."""
        return max(1, self.limit // MIB)


class JsonTooDeep(HTTPException):
    """Raised from receive() when a JSON body nests deeper than MAX_JSON_DEPTH."""

    def __init__(self) -> None:
        super().__init__(422, f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")


@dataclass
class JsonDepthScanner:
    """Tracks bracket depth across chunks, ignoring brackets inside strings."""

    depth: int = 0
    in_string: bool = False
    escaped: bool = False

    def feed(self, chunk: bytes, last: bool = False) -> None:
        """Scan a chunk; raise JsonTooDeep when the limit is passed."""
        if last and self.depth + chunk.count(b"[") + chunk.count(b"{") <= MAX_JSON_DEPTH:
            # Even if every bracket opened a level (brackets in strings don't) the limit holds, and no later chunk
            # needs the state: two C-level counts instead of a Python step per byte of the body.
            return
        for byte in chunk:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif byte == 0x5C:  # backslash
                    self.escaped = True
                elif byte == 0x22:
                    self.in_string = False
            elif byte == 0x22:
                self.in_string = True
            elif byte in (0x5B, 0x7B):
                self.depth += 1
                if self.depth > MAX_JSON_DEPTH:
                    raise JsonTooDeep
            elif byte in (0x5D, 0x7D):
                self.depth -= 1


# ------------------------------------------------------------------------------------------- CSP


@dataclass
class CspPolicy:
    """A Content-Security-Policy; `nonce` is added to script-src and style-src."""

    directives: dict[str, list[str]] = field(default_factory=dict)

    def render(self, nonce: str) -> str:
        """Header value for one response."""
        parts = []
        for name, values in self.directives.items():
            vals = list(values)
            if name in ("script-src", "style-src"):
                vals.append(f"'nonce-{nonce}'")
            parts.append(" ".join([name, *vals]))
        return "; ".join(parts)

    def extend(self, **extra: list[str]) -> CspPolicy:
        """A copy with sources added (keyword names use underscores for dashes)."""
        directives = {k: list(v) for k, v in self.directives.items()}
        for key, values in extra.items():
            directives.setdefault(key.replace("_", "-"), []).extend(values)
        return CspPolicy(directives)


# Scripts only with this response's nonce: not even 'self', because attachments are served from this origin and
# must never become executable script. No 'unsafe-inline' and no 'unsafe-eval' anywhere.
STRICT_CSP = CspPolicy(
    {
        "default-src": ["'self'"],
        "script-src": [],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
)
CSP_HEADER = "Content-Security-Policy"
# Every response that is not an HTML page, unless its route set its own.
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
NONCE_KEY = "csp_nonce"
POLICY_KEY = "csp_policy"


def csp_nonce(scope: Mapping[str, object]) -> str:
    """The nonce of the current response (templates read it as request.state.csp_nonce)."""
    state = scope.get("state")
    return str(state.get(NONCE_KEY, "")) if isinstance(state, dict) else ""


def use_policy(scope: Mapping[str, object], policy: CspPolicy) -> None:
    """Let one route widen the default CSP (the demo shop, /docs); the nonce stays."""
    state = scope.get("state")
    if isinstance(state, dict):
        state[POLICY_KEY] = policy


def _session_cookie(scope: Scope) -> str:
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return str(getattr(settings, "session_cookie", "kefu_session"))


def _cors_headers(*, preflight: bool) -> dict[str, str]:
    headers = {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}
    if preflight:
        headers.update(
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, X-Kefu-Visitor",
                "Access-Control-Max-Age": "600",
            }
        )
    return headers


async def _send_problem(send: Send, status: int, title: str, detail: str, extra: dict[str, str]) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in {**HARDENING, **extra}.items()]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WebSecurity:
    """Pure ASGI (no per-request task or body copy): limits the request, decorates the response."""

    def __init__(self, app: ASGIApp, policy: CspPolicy = STRICT_CSP) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer preflights, refuse oversized bodies, add CSP/hardening/CORS headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        headers = Headers(scope=scope)
        public = path.startswith(CORS_PUBLIC_PREFIXES)
        if public and scope["method"] == "OPTIONS" and headers.get("access-control-request-method"):
            # Preflight for the embeddable widget and public APIs: they authenticate with explicit tokens, never
            # cookies, so any site may call them.
            await _send_preflight(send)
            return
        limit = body_limit(path)
        declared = headers.get("content-length")
        too_large = declared is not None and (not declared.isdigit() or int(declared) > limit)
        if too_large and path.startswith(API_PATHS):
            # Refuse before reading a byte of it.
            cors = _cors_headers(preflight=False) if public else {}
            await _send_problem(send, 413, "Content too large", f"Request body larger than {limit} bytes.", cors)
            return
        state = scope.setdefault("state", {})
        nonce = secrets.token_urlsafe(18)
        state[NONCE_KEY] = nonce
        is_json = "json" in headers.get("content-type", "")
        # Answers to credentialed requests hold personal data: no shared or back-button caching of them.
        credentialed = "authorization" in headers or f"{_session_cookie(scope)}=" in headers.get("cookie", "")
        https = scope.get("scheme") == "https"
        scanner = JsonDepthScanner() if is_json else None
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                # A page (a browser form): the app's error handler answers with a localized page or form error,
                # still before a byte of the body is read.
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge(limit)
                if scanner is not None:
                    scanner.feed(chunk, last=not message.get("more_body", False))
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if message["status"] == 413:
                    out["Connection"] = "close"  # the rest of the refused body is never read
                if public:
                    out.update(_cors_headers(preflight=False))
                for name, value in HARDENING.items():
                    if name not in out:
                        out[name] = value
                if credentialed and "cache-control" not in out:
                    out["Cache-Control"] = "no-store"
                if https:
                    out["Strict-Transport-Security"] = "max-age=31536000"
                if out.get("content-type", "").startswith("text/html"):
                    policy = state.get(POLICY_KEY, self.policy)
                    out[CSP_HEADER] = policy.render(nonce)
                elif CSP_HEADER not in out:
                    # Not a page: a file (an SVG or XML a customer sent, a stored image), JSON, a script. Opened
                    # directly under our origin it must run nothing, whichever route served it and however it
                    # labelled or disposed it (scripts and styles ignore their own response's policy).
                    out[CSP_HEADER] = FILE_CSP
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


async def _send_preflight(send: Send) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in _cors_headers(preflight=True).items()]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
