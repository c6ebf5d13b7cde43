"""FastAPI dependencies: the per-request unit of work and authentication (bearer token or cookie+CSRF)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache, partial
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from kefu.auth import scopes, service, tokencache
from kefu.auth.models import AuthSession
from kefu.auth.permissions import Principal
from kefu.core.config import Settings, get_settings
from kefu.core.db import finish_session, get_database
from kefu.core.errors import Forbidden, Unauthorized
from kefu.core.ratelimit import RouteLimit
from kefu.core.security import constant_eq, token_digest

T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: commit when the handler returns, roll back when it raises."""
    factory = getattr(request.app.state, "session_factory", None) or get_database().sessionmaker
    if request.method in SAFE_METHODS:
        database = getattr(request.app.state, "database", None)
        # Only the Database's own factory has a read twin (a test's factory bound to its transaction has none).
        if database is not None and factory is getattr(database, "default_sessionmaker", None):
            factory = database.read_sessionmaker  # reads never wait for the SQLite write lock
    # Async so that opening the session (no I/O: it connects at its first statement) costs no thread-pool hop;
    # the commit or rollback and the close run together in one hop at the end (kefu.core.db.finish_session).
    session = factory()
    try:
        yield session
    except BaseException:
        await _finish(session, False)
        raise
    await _finish(session, True)


async def _finish(session: Session, commit: bool) -> None:
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await run_in_threadpool(finish_session, session, commit)
    else:
        session.close()  # nothing began, or the handler committed in its own hop (commit_in_one_hop): no I/O left


async def commit_in_one_hop(db: Session, work: Callable[[], T]) -> T:
    """Run a write handler's `work` and commit the request's unit of work in the same thread-pool hop.

    The request still commits (services only flush) and still before the response is sent, so a 2xx means durable;
    db_session then finds no transaction left and closes without another hop.
    """

    def run() -> T:
        result = work()
        db.commit()  # a failure propagates; db_session rolls back and closes
        return result

    return await run_in_threadpool(run)


# scope="function": commit before the response is sent, so a 2xx always means durable.
DB = Annotated[Session, Depends(db_session, scope="function")]


def app_settings(request: Request) -> Settings:
    """Settings bound to the app, else the process's."""
    s = getattr(request.app.state, "settings", None)
    return s if isinstance(s, Settings) else get_settings()


async def settings_dep(request: Request) -> Settings:
    """Settings bound to the app (tests may override); async: no I/O, so no thread-pool hop."""
    return app_settings(request)


SettingsDep = Annotated[Settings, Depends(settings_dep)]


def client_ip(request: Request) -> str:
    """Peer address (a reverse proxy should be configured to pass the real one)."""
    return request.client.host if request.client else "unknown"


@lru_cache(maxsize=1024)
def exempt_from_limits(ip: str, networks: tuple[str, ...]) -> bool:
    """True when `ip` lies in one of the exempt networks (Settings.rate_limit_exempt_networks)."""
    if not networks:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(net, strict=False) for net in networks)


THROTTLE = "__kefu_route_limit__"  # marks the dependency, so tests/security/test_ratelimit.py finds every throttle


def throttled(limit: RouteLimit) -> Callable[[Request, Session, Settings], None]:
    """A route dependency counting each request against `limit` per client address (429 + Retry-After when used)."""

    def throttle(request: Request, db: DB, settings: SettingsDep) -> None:
        ip = client_ip(request)
        if not exempt_from_limits(ip, tuple(settings.rate_limit_exempt_networks)):
            limit.hit(db, ip)

    setattr(throttle, THROTTLE, limit)
    return throttle


_AUTHENTICATED = "kefu.authenticated"  # request scope: the principal (or None) optional_principal found


async def optional_principal(request: Request, db: DB) -> Principal | None:
    """Principal from bearer token or session cookie, if any (looked up once per request)."""
    # `require` calls this directly rather than declaring it (one level less of FastAPI's per-request solving on
    # every authenticated route); a route that also declares it gets the same answer without a second lookup.
    if _AUTHENTICATED in request.scope:
        found: Principal | None = request.scope[_AUTHENTICATED]
        return found
    principal = await _authenticate(request, db)
    request.scope[_AUTHENTICATED] = principal
    return principal


async def _authenticate(request: Request, db: Session) -> Principal | None:
    # Async: a bearer token found in the per-process cache (kefu.auth.tokencache) needs no SQL and so no
    # thread-pool hop; a miss or a cookie reads the database in one hop. The settings are read here, not
    # declared as a dependency: every authenticated request solves this function, and each sub-dependency is
    # another round of FastAPI's per-request solving.
    settings = app_settings(request)
    ip = client_ip(request)
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized.said("err_auth_bad_auth_header")
        raw = value.strip()
        principal = tokencache.lookup(token_digest(raw), ip)
        if principal is None:
            principal = await run_in_threadpool(
                partial(service.resolve_token, db, raw, ip, cache_seconds=settings.token_cache_seconds)
            )
        if principal is None:
            raise Unauthorized.said("err_auth_bad_token")
        request.state.principal = principal  # the privacy middleware masks the response for this principal
        return principal
    cookie = request.cookies.get(settings.session_cookie)
    if not cookie:
        return None
    resolved = await run_in_threadpool(service.resolve_session, db, cookie, ip)
    if resolved is None:
        return None
    principal, row = resolved
    require_csrf(request, row)
    request.state.csrf_token = row.csrf_token
    request.state.principal = principal  # the privacy middleware masks the response for this principal
    return principal


def require_csrf(request: Request, row: AuthSession) -> None:
    """Unsafe requests on a cookie session must echo that session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not constant_eq(sent, row.csrf_token):
        raise Forbidden.said("err_auth_bad_csrf").also(csrf=True)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """The console session cookie: HttpOnly, SameSite=Lax, Secure when configured."""
    response.set_cookie(
        settings.session_cookie,
        token,
        max_age=settings.session_ttl_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


AUTHENTICATES = "__kefu_authenticates__"  # marks the dependencies that answer 401 without a principal (tests)
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def _authenticated(request: Request, principal: Principal | None) -> Principal:
    """The principal, or 401 without one; 403 when the route's declared permission refuses it (kefu.auth.scopes)."""
    if principal is None:
        raise Unauthorized.said("err_auth_auth_required")
    refused = scopes.check_route(principal, request.scope.get("route"), request.method)
    if refused:
        raise Forbidden(refused)
    return principal


async def current_principal(request: Request, principal: MaybePrincipal) -> Principal:
    """The authenticated principal or a 401; also enforces the route's declared permission (kefu.auth.scopes)."""
    # Async although nothing is awaited: FastAPI runs sync dependencies in the thread pool, a hop per request.
    return _authenticated(request, principal)


setattr(current_principal, AUTHENTICATES, True)
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: str) -> Callable[[Request, Session], Awaitable[Principal]]:
    """Dependency factory: the principal must hold `permission`."""

    # current_principal's checks and optional_principal's lookup run here rather than as dependencies of this one:
    # each level is another round of FastAPI's per-request solving, on every authenticated route. Async: no
    # thread-pool hop for a pure check or a cached token.
    async def _dep(request: Request, db: DB) -> Principal:
        principal = _authenticated(request, await optional_principal(request, db))
        if not principal.can(permission):
            raise Forbidden.said("err_auth_missing_permission", permission=permission)
        return principal

    setattr(_dep, scopes.MARK, (permission,))  # the route's declared permission (tests/security/test_scopes.py)
    setattr(_dep, AUTHENTICATES, True)
    return _dep
