"""The router every capability declares its routes on: FastAPI's APIRouter plus a literal-prefix pre-check.

FastAPI (0.16x) matches a request by walking every included router and, inside each, every route — setting and
restoring scope keys per candidate — so with ~50 routers and ~330 routes the walk cost 0.6–1.2 ms of CPU per
request (benchmarks/create_cpu.py; py-spy put routing at half of the event-loop thread's time). A route's
regex can only match paths that begin with the literal text before its first ``{param}``; `Router.matches`
answers "no" with one ``str.startswith(tuple)`` when the path begins with none of them, and defers to FastAPI
otherwise, so which route wins is unchanged. tests/web/test_routing.py checks that every route is still reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.routing import Match
from starlette.types import Scope

from kefu.core.textrules import clean_text, clean_value, strict_json


class CleanRequest(Request):
    """A request whose parsed JSON and form fields follow kefu.core.textrules (no C0 controls but tab/CR/LF).

    Schemas and forms then see — and answers echo — the same text the database stores; the raw body (what a
    webhook's signature covers) is untouched.
    """

    async def json(self) -> Any:
        """The JSON body, cleaned (and refused, as malformed, when it breaks `strict_json`'s rules)."""
        if not hasattr(self, "_clean_json"):
            self._clean_json = clean_value(strict_json(await self.body()))
        return self._clean_json

    async def _get_form(self, **limits: Any) -> FormData:
        # The limits are passed on as given: their names differ between Starlette releases (max_part_size is newer
        # than the 0.40 floor), and a name the installed one lacks would make every form a 400.
        form = await super()._get_form(**limits)
        if not getattr(self, "_form_cleaned", False):
            items = [(k, clean_text(v) if isinstance(v, str) else v) for k, v in form.multi_items()]
            form = FormData(items)
            self._form, self._form_cleaned = form, True
        return self._form or form


class CleanRoute(APIRoute):
    """Every route of a Router: its handler reads the request through CleanRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a CleanRequest."""
        handler = super().get_route_handler()

        async def clean_handler(request: Request) -> Response:
            return await handler(CleanRequest(request.scope, request.receive))

        return clean_handler


class Router(APIRouter):
    """APIRouter whose `matches` rejects, in one call, paths no route of it can match; its routes are CleanRoutes."""

    _literal_heads: tuple[str, ...] = ()
    _heads_for: int = -1  # len(self.routes) when _literal_heads was computed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", CleanRoute)
        super().__init__(*args, **kwargs)

    def _heads(self) -> tuple[str, ...]:
        heads: list[str] = []
        for route in self.routes:
            if not isinstance(route, APIRoute | APIWebSocketRoute):
                return ()  # a mount or nested router: no pre-check, FastAPI decides
            heads.append(route.path.split("{", 1)[0])
        return tuple(heads)

    def rejects(self, path: str) -> bool:
        """True when no route of this router can match `path` (it starts with none of their literal prefixes)."""
        if self._heads_for != len(self.routes):  # routes are only ever appended
            self._literal_heads, self._heads_for = self._heads(), len(self.routes)
        heads = self._literal_heads
        return bool(heads) and not path.startswith(heads)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FastAPI's match, skipped when the path starts with no route's literal prefix."""
        if self.rejects(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


# FastAPI's node for an included router (private; recent releases keep included routers as nodes, older ones copy
# their routes into the app, where there is nothing to pre-check). Looked up, not imported, so a FastAPI without it
# (the dependency floor, or a future rename) only loses this shortcut.
_INCLUDED: type[Any] | None = getattr(fastapi.routing, "_IncludedRouter", None)


def _prechecked_matches(node: Any, scope: Scope) -> tuple[Match, Scope]:
    """No match, without touching the scope, when the router rejects the path; else FastAPI's match."""
    router = node.original_router
    # Router.rejects inlined (this runs for every included router on every request): heads computed for the
    # current routes (only ever appended), and a path that starts with none of them.
    heads = router._literal_heads if router._heads_for == len(router.routes) else None
    if heads is None:
        if router.rejects(scope["path"]):
            return Match.NONE, {}
    elif heads and not scope["path"].startswith(heads):
        return Match.NONE, {}
    assert _INCLUDED is not None
    result: tuple[Match, Scope] = _INCLUDED.matches(node, scope)
    return result


_MATCHED = "kefu.included_match"  # request scope: (node, path key, FastAPI's inner match) of the last node that matched


def _remembered_match(node: Any, scope: Scope) -> tuple[Any, ...]:
    """FastAPI's walk of the node's routes, done once per request: `matches` walks it and `handle` walks it again."""
    # The app's router asks the node whether it matches (one walk of its routes, the result kept only as
    # FULL/PARTIAL) and then hands it the request, whose handling walks the same routes again to find the one to
    # call. Nothing that decides the match changes in between (the app router adds the node's empty child scope),
    # so the second walk takes the first's answer when it is for this node and the same path and method.
    key = (scope.get("path"), scope.get("method"), scope.get("root_path"))
    kept = scope.pop(_MATCHED, None)
    if kept is not None and kept[0] is node and kept[1] == key:
        found: tuple[Any, ...] = kept[2]
        return found
    assert _INCLUDED is not None
    found = _INCLUDED._match(node, scope)
    if found[0] != Match.NONE:
        scope[_MATCHED] = (node, key, found)
    return found


# The app's router walks one such node per included router (~50) for every request; FastAPI's node sets and
# restores a scope key around each inner match, which cost more than the one `str.startswith` that rejects it.
PrecheckedInclude: type[Any] | None = (
    type("PrecheckedInclude", (_INCLUDED,), {"matches": _prechecked_matches, "_match": _remembered_match})
    if _INCLUDED is not None and hasattr(_INCLUDED, "_match")
    else None
)


def precheck(app: Starlette) -> None:
    """Let the app's router skip included kefu Routers by their literal prefixes (after every include_router)."""
    if _INCLUDED is None or PrecheckedInclude is None:
        return
    for route in app.router.routes:
        if type(route) is _INCLUDED and isinstance(getattr(route, "original_router", None), Router):
            route.__class__ = PrecheckedInclude  # same fields, only `matches` differs


def warm(app: Starlette) -> None:
    """Build FastAPI's per-route lookup state now, at start-up, instead of during the first request.

    FastAPI builds each included route's effective context lazily on the first match walk (~330 routes: about a
    second of CPU, several under load), which the first customer after a restart would otherwise wait for.
    """
    for route in app.router.routes:
        inner = getattr(route, "original_router", None)  # an included router: match one of its own paths
        paths = [p for p in (getattr(r, "path", None) for r in getattr(inner, "routes", ())) if p] or ["/"]
        path = re.sub(r"\{[^}]+\}", "1", paths[0])
        route.matches(
            {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": [], "query_string": b""}
        )
