"""The ASGI application: API routers, problem errors, health, realtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from kefu import __version__, registry
from kefu.auth import tokencache
from kefu.bootstrap import wire
from kefu.channels import storage
from kefu.core.config import Settings, get_settings
from kefu.core.db import DATABASE, Database, session_scope, transient_db_error
from kefu.core.events import BUS, Bus
from kefu.core.jobs import QUEUE
from kefu.core.realtime import Hub
from kefu.core.runtime import Runtime
from kefu.core.scheduler import Scheduler
from kefu.privacy.contract import mask_json, output_kinds
from kefu.privacy.middleware import PrivacyMiddleware
from kefu.security.asgi import WebSecurity
from kefu.web.errors import install_docs, install_error_pages
from kefu.web.pages import LoginRequired
from kefu.web.problems import install_problem_handlers
from kefu.web.routing import Router, precheck
from kefu.web.ws import router as ws_router

log = logging.getLogger("kefu.web")


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    bus: Bus | None = None,
    *,
    runtime: Runtime | None = None,
) -> FastAPI:
    """Build the app on a wired runtime (`kefu.web.main` passes `wire(settings)`); without one, wire it here."""
    if runtime is None:
        runtime = wire(settings or get_settings(), database=database, bus=bus)
    settings = runtime.settings
    database = runtime.get(DATABASE)
    output_kinds()  # load every package's personal-data declarations now, not on the first masked request
    hub = Hub(masker=mask_json)  # agents without pii:reveal get masked event data

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        the_bus = runtime.get(BUS)
        queue = runtime.get(QUEUE)
        the_bus.add_listener(hub.on_event)
        the_bus.add_listener(tokencache.on_event)  # revocations committed by other processes
        await run_in_threadpool(the_bus.start)
        queue.start()
        scheduler = Scheduler(app.state.session_factory, lambda: runtime.get(QUEUE)) if settings.scheduler else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)
            await run_in_threadpool(queue.stop)  # finish in-hand jobs; the rest wait in the job table
            the_bus.remove_listener(hub.on_event)
            the_bus.remove_listener(tokencache.on_event)
            tokencache.clear()  # no longer told of revocations (and not left paused by a bus outage)
            await run_in_threadpool(the_bus.stop)

    app = FastAPI(
        title="kefu 客服",
        version=__version__,
        description="Omnichannel, AI-first customer service API. Errors are RFC 7807 problem documents.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs with a nonce-bearing CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.database = database
    app.state.session_factory = database.sessionmaker
    app.state.hub = hub
    install_problem_handlers(app)

    for router in [*registry.routers("api"), ws_router, *registry.routers("pages")]:
        if not isinstance(router, Router):  # the prefix pre-check is what keeps routing cheap (kefu.web.routing)
            raise TypeError(f"{router!r} must be a kefu.web.routing.Router, not a bare APIRouter")
        app.include_router(router)
    precheck(app)
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
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)

    install_docs(app)
    install_error_pages(app)  # after every handler is registered: page routes get an HTML error page
    app.add_middleware(PrivacyMiddleware)  # every authenticated API response goes through the privacy contract
    app.add_middleware(WebSecurity)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        """Liveness, database reachability (503 when down) and the file store (named when it cannot take a file)."""
        try:
            with session_scope(app.state.session_factory) as session:
                session.execute(text("SELECT 1"))
            db_ok = True
        except Exception as exc:  # report, don't crash the probe
            # Probed every few seconds by load balancers: an outage is one line per probe, not a traceback each.
            if transient_db_error(exc):
                log.warning("healthz: the database cannot serve (%s)", type(exc).__name__)
            else:
                log.exception("healthz database check failed")
            db_ok = False
        # The file store as a request would meet it; a failure names the path and says whether an operator must act
        # (permissions: a configuration mistake) or it is capacity (full, read-only, failing).
        storage_error = storage.probe()
        if storage_error is not None:
            log.warning("healthz: %s", storage_error)
        body = {
            "status": "ok" if db_ok and storage_error is None else "degraded",
            "database": db_ok,
            "storage": storage_error is None,
            "version": __version__,
            "realtime_clients": hub.size,
        }
        if storage_error is not None:
            body["storage_error"] = storage_error
        # Only the database takes the process out of rotation: without the file store chat, tickets and the portal
        # still work (uploads and downloads answer 503), and a shared volume's mistake would empty the whole pool.
        return JSONResponse(body, status_code=200 if db_ok else 503)

    return app
