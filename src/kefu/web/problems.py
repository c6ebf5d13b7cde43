"""RFC 7807 problem+json responses for every API error: the FastAPI handlers for domain and framework errors."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.core.db import transient_db_error
from kefu.core.errors import ProblemError, storage_unavailable
from kefu.web.i18n import reader_locale, title_text
from kefu.web.problem_text import outage_detail, plain_text, validation_detail, validation_errors

log = logging.getLogger("kefu.web")
PROBLEM_JSON = "application/problem+json"
# Seconds a client (LINE, Meta, an integration) should wait before retrying while the database is unreachable.
DB_RETRY_AFTER = 5


def problem(status: int, title: str, detail: str | None, instance: str | None, **extra: Any) -> JSONResponse:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def unavailable(instance: str | None, locale: str | None = None, exc: BaseException | None = None) -> JSONResponse:
    """503 problem+json with Retry-After: webhook providers and clients retry it, nothing is half-stored."""
    title = title_text("Service unavailable", locale)
    response = problem(503, title, outage_detail(exc, locale, DB_RETRY_AFTER), instance)
    response.headers["Retry-After"] = str(DB_RETRY_AFTER)
    return response


def server_error(exc: BaseException, instance: str | None, locale: str | None = None) -> JSONResponse:
    """The answer to an error no handler knows: 503 when it is (or wraps) a database or file-store outage, else a
    bare 500."""
    # Reached from ServerErrorMiddleware, e.g. a commit failing in a dependency's teardown, and from every route that
    # stores a file (attachments of the API, the widget, the portal, the message board): the disk being full is the
    # same kind of outage as the database being down, and nothing was stored (the unit of work rolled back).
    if transient_db_error(exc) or storage_unavailable(exc):  # both follow __cause__ / __context__ too
        return unavailable(instance, locale, exc)
    return problem(500, "Internal server error", None, instance)


def install_problem_handlers(app: FastAPI) -> None:
    """Route all errors through RFC 7807 responses (unknown errors: kefu.web.errors installs `server_error`)."""

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        return unavailable(request.url.path, reader_locale(request), exc)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        if transient_db_error(exc):  # the one rule (kefu.core.db): unreachable, lock or statement timeout
            return unavailable(request.url.path, reader_locale(request), exc)
        raise exc  # anything else is a real server error (500), not an outage

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        locale = reader_locale(request)
        detail = exc.detail_in(locale)  # as raised unless said with a catalog key
        # `title` follows the same preference (`type` and `status` are for programs and never change).
        response = problem(exc.status, title_text(exc.title, locale), detail, request.url.path, **exc.extra)
        if isinstance(exc.extra.get("retry_after"), int):  # rate limits: the header clients and proxies honour
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "Error"
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(exc.status_code, title_text(title, reader_locale(request)), detail, request.url.path)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # e.g. an id beyond 64 bits reaching the database driver
        locale = reader_locale(request)
        return problem(
            422, title_text("Invalid input", locale), plain_text("pv_out_of_range", locale), request.url.path
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint caught what no service check did (a duplicate, a reference to no row): the request is at
        # fault and nothing was stored (the unit of work rolls back), so 409 in the reader's language, never a 500.
        # Logged with its trace: the service that let it through should say it first, in its own words.
        log.warning("constraint refused %s %s: %s", request.method, request.url.path, exc.orig, exc_info=exc)
        locale = reader_locale(request)
        return problem(409, title_text("Conflict", locale), plain_text("pv_integrity", locale), request.url.path)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        locale = reader_locale(request)
        detail = plain_text("pv_malformed", locale)
        return problem(422, title_text("Invalid input", locale), detail, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # `loc` and `type` are for programs and never change; `msg` and the summary are for the reader.
        locale = reader_locale(request)
        errors = validation_errors(exc.errors(), locale)
        title = title_text("Validation failed", locale)
        return problem(422, title, validation_detail(len(errors), locale), request.url.path, errors=errors)
