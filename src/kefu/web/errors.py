"""HTML error pages for page routes (the API keeps RFC 7807) and the API docs under a nonce-bearing CSP."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from kefu.core.errors import storage_problem
from kefu.security.asgi import API_PATHS, CSP_HEADER, STRICT_CSP, BodyTooLarge, csp_nonce, use_policy
from kefu.web.i18n import reader_locale
from kefu.web.problems import PROBLEM_JSON, server_error

log = logging.getLogger("kefu.web")
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]
API_PREFIXES = API_PATHS
# Marks the inline-error fragment an htmx form gets for a 4xx; static/forms.js shows it next to the form's fields.
FORM_ERROR_HEADER = "X-Kefu-Form-Error"
CONSOLE_AREAS = ("/console", "/admin", "/ops")
SWAGGER_CDN = "https://cdn.jsdelivr.net"
# Swagger UI's bundle comes from its CDN: its script tags get the nonce, its stylesheet and favicon are allowed.
DOCS_CSP = STRICT_CSP.extend(style_src=[SWAGGER_CDN], img_src=["https://fastapi.tiangolo.com"])


def is_page(request: Request) -> bool:
    """True for browser page routes (console, admin, portal, surveys, demo), which answer errors with HTML."""
    return not request.url.path.startswith(API_PREFIXES)


def in_console(request: Request) -> bool:
    """True for the signed-in areas (console, admin, ops), whose error pages keep the console's layout."""
    path = request.url.path
    return any(path == area or path.startswith(f"{area}/") for area in CONSOLE_AREAS)


def error_page(
    request: Request, status: int, detail: str | None = None, limit_mb: int | None = None, ctx: object = None
) -> HTMLResponse:
    """A friendly localized error page (never the raw exception); inside the console with `ctx` (a PageContext)."""
    # `limit_mb` names the size limit of a 413; with ctx: navigation, the agent's language, sign-out, a way back.
    from kefu.web.pages import PageContext, back_link, render

    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    page_ctx = ctx if isinstance(ctx, PageContext) else None
    response = render(
        request,
        page_ctx,
        "error.html",
        status=status,
        status_code=status,
        title=title,
        detail=detail,
        limit_mb=limit_mb,
        back=back_link(request) if page_ctx else None,
    )
    # The 500 page is sent by Starlette's outermost middleware, outside WebSecurity, so it sets its own CSP.
    response.headers[CSP_HEADER] = STRICT_CSP.render(csp_nonce(request.scope))
    return response


def wants_inline_error(request: Request, status: int) -> bool:
    """An htmx request from a page (a form, a button) answered 4xx: its errors go next to the form, not a page."""
    return is_page(request) and bool(request.headers.get("HX-Request")) and 400 <= status < 500 and status != 401


def form_locale(request: Request) -> str:
    """The language inline form errors are written in: the page's (forms.js sends it), else the agent's cookie."""
    from kefu.web.i18n import LOCALE_COOKIE, pick_locale

    return pick_locale(request.headers.get("X-Kefu-Locale"), request.cookies.get(LOCALE_COOKIE))


def form_error(
    request: Request,
    status: int,
    detail: str | None,
    exc: Exception | None = None,
    fields: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The inline-error fragment: a headline per status, the reason, and a message per bad field, localized.

    `fields` are messages a handler has already written in the reader's language, by form field name.
    """
    from fastapi.exceptions import RequestValidationError

    from kefu.web.forms import field_errors
    from kefu.web.i18n import translator
    from kefu.web.pages import templates

    t = translator(form_locale(request))
    messages = field_errors(exc.errors(), t) if isinstance(exc, RequestValidationError) else {}
    messages.update(fields or {})
    reason = None
    if isinstance(exc, BodyTooLarge):
        reason = t["error_413_limit"].format(mb=exc.limit_mb)
    elif detail and not isinstance(exc, RequestValidationError):
        reason = t["fe_detail"].format(detail=detail)
    response = templates.TemplateResponse(
        request,
        "partials/form_error.html",
        {"headline": t.get(f"error_{status}", t["error_400"]), "reason": reason, "fields": messages},
        status_code=status,
    )
    response.headers[FORM_ERROR_HEADER] = "1"
    response.headers["Cache-Control"] = "no-store"
    return response


def _detail(response: Response) -> str | None:
    import json

    if response.media_type != PROBLEM_JSON and not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return None
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail else None


def _said(exc: Exception, locale: str, response: Response) -> str | None:
    """A problem raised with a catalog key in the page's language; else the response's detail."""
    from kefu.core.errors import ProblemError
    from kefu.web.i18n import error_text

    if isinstance(exc, ProblemError) and exc.key:
        return error_text(locale, exc)
    return _detail(response)


def _page_locale(request: Request, ctx: object) -> str:
    """The language the error page is rendered in: the agent's inside the console, else the visitor's."""
    from kefu.web.pages import PageContext, public_locale

    return ctx.locale if isinstance(ctx, PageContext) else public_locale(request)


async def _console_context(request: Request, status: int) -> object:
    # 4xx only: a 5xx may be the database itself failing, and that page must not need it.
    if status >= 500 or status == 401 or not in_console(request):
        return None
    from kefu.web.pages import console_context

    try:
        return await run_in_threadpool(console_context, request)
    except Exception:  # the plain error page is still an answer
        log.warning("no console layout for the %s page of %s", status, request.url.path, exc_info=True)
        return None


def _wrap(handler: Handler) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def wrapped(request: Request, exc: Exception) -> Response:
        result = handler(request, exc)
        response = await result if isinstance(result, Awaitable) else result
        if not is_page(request) or response.status_code < 400:
            return response
        if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
            return response
        if wants_inline_error(request, response.status_code):
            inline = form_error(request, response.status_code, _said(exc, form_locale(request), response), exc)
            if "retry-after" in response.headers:
                inline.headers["retry-after"] = response.headers["retry-after"]
            return inline
        limit_mb = exc.limit_mb if isinstance(exc, BodyTooLarge) else None
        ctx = await _console_context(request, response.status_code)
        page = error_page(
            request, response.status_code, _said(exc, _page_locale(request, ctx), response), limit_mb, ctx
        )
        for name in ("retry-after", "www-authenticate"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    return wrapped


def install_error_pages(app: FastAPI) -> None:
    """Wrap every registered problem handler: page routes get the HTML page, the API keeps problem+json."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrap(cast(Handler, handler))

    def unhandled(request: Request, exc: Exception) -> Response:
        response = server_error(exc, request.url.path, reader_locale(request))
        if response.status_code >= 500 and response.status_code != 503:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        elif (line := storage_problem(exc)) is not None:
            # One line naming the path: a permission mistake must be told from a full disk without a traceback.
            log.warning("503 on %s %s: %s", request.method, request.url.path, line)
        return response

    # The only handler for errors nothing else knows: problem+json for the API, the friendly page for pages.
    app.add_exception_handler(Exception, _wrap(unhandled))


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs; its inline bootstrap script carries the response's nonce."""

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        use_policy(request.scope, DOCS_CSP)
        nonce = csp_nonce(request.scope)
        page = get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API")
        html = re.sub(r"<script(?=[\s>])", f'<script nonce="{nonce}"', bytes(page.body).decode())
        return HTMLResponse(html)
