"""The ASGI application: API routers, problem errors, health, realtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu import __version__, registry
from kefu.core.config import Settings, get_settings
from kefu.core.db import Database, get_database, session_scope, set_database
from kefu.core.errors import install_problem_handlers
from kefu.core.events import Bus, get_bus, set_bus
from kefu.core.jobs import get_queue
from kefu.core.realtime import Hub
from kefu.core.scheduler import Scheduler
from kefu.privacy.logmask import install_log_masking
from kefu.web.pages import LoginRequired
from kefu.web.ws import router as ws_router

log = logging.getLogger("kefu.web")


CORS_PUBLIC_PREFIXES = ("/api/v1/widget/", "/api/v1/public/")


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


_HARDENING = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


class SecurityHeaders:
    """CORS for the public prefixes and hardening headers, as plain ASGI (no per-request task and body relay)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer widget/public preflights; add the headers to every HTTP response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        public = str(scope["path"]).startswith(CORS_PUBLIC_PREFIXES)
        if public and scope["method"] == "OPTIONS" and Headers(scope=scope).get("access-control-request-method"):
            # Preflight for the embeddable widget and public APIs: they authenticate with explicit tokens, never
            # cookies, so any site may call them.
            await Response(status_code=204, headers=_cors_headers(preflight=True))(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if public:
                    headers.update(_cors_headers(preflight=False))
                for name, value in _HARDENING.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, database: Database | None = None, bus: Bus | None = None) -> FastAPI:
    """Build the app; tests pass their own settings/database/bus."""
    settings = settings or get_settings()
    registry.load_jobs()  # the in-process queue runs jobs inside this process
    install_log_masking()  # personal data never reaches log files
    if database is not None:
        set_database(database)
    database = database or get_database(settings)
    if bus is not None:
        set_bus(bus)
    hub = Hub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        the_bus = get_bus()
        the_bus.add_listener(hub.on_event)
        await run_in_threadpool(the_bus.start)
        get_queue().start()
        scheduler = Scheduler(app.state.session_factory, get_queue) if settings.scheduler else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)
            the_bus.remove_listener(hub.on_event)
            await run_in_threadpool(the_bus.stop)

    app = FastAPI(
        title="kefu 客服",
        version=__version__,
        description="Omnichannel, AI-first customer service API. Errors are RFC 7807 problem documents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.session_factory = database.sessionmaker
    app.state.hub = hub
    install_problem_handlers(app)

    for router in registry.routers("api"):
        app.include_router(router)
    app.include_router(ws_router)
    for router in registry.routers("pages"):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    favicon = (Path(__file__).parent / "static" / "favicon.ico").read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> Response:
        # Browsers ask for /favicon.ico on every page, whatever the <link rel="icon"> says.
        return Response(favicon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        """Liveness and database reachability."""
        try:
            with session_scope(app.state.session_factory) as session:
                session.execute(text("SELECT 1"))
            db_ok = True
        except Exception:  # report, don't crash the probe
            log.exception("healthz database check failed")
            db_ok = False
        body = {
            "status": "ok" if db_ok else "degraded",
            "database": db_ok,
            "version": __version__,
            "realtime_clients": hub.size,
        }
        return JSONResponse(body, status_code=200 if db_ok else 503)

    return app
