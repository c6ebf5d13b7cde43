"""Every route is still reached, and by the same route, with kefu.web.routing's prefix pre-check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Match

from kefu import registry
from kefu.web.app import create_app
from kefu.web.routing import Router


def _first_match(app: FastAPI, scope: dict[str, Any], fast: bool) -> Any:
    original, rejects = Router.matches, Router.rejects
    if not fast:  # neither the router's pre-check nor the app-level one (kefu.web.routing.precheck)
        Router.matches = APIRouter.matches  # type: ignore[method-assign]
        Router.rejects = lambda self, path: False  # type: ignore[method-assign]
    try:
        for index, top in enumerate(app.router.routes):
            match, child = top.matches(dict(scope))
            if match != Match.FULL:
                continue
            inner = getattr(top, "original_router", None)  # an included router: which of its routes answers
            if inner is None:
                return index, child.get("endpoint")
            for route in inner.routes:
                if route.matches(dict(scope))[0] == Match.FULL:
                    return index, route.endpoint
            return index, None
        return None
    finally:
        Router.matches, Router.rejects = original, rejects  # type: ignore[method-assign]


def test_every_route_matches_the_same_route_as_fastapi_alone(app: FastAPI) -> None:
    """For each declared route, a sample path resolves to the same endpoint with and without the pre-check."""
    routes = [r for router in registry.routers("api") + registry.routers("pages") for r in router.routes]
    checked = 0
    for route in routes:
        if not isinstance(route, APIRoute | APIWebSocketRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        kind = "websocket" if isinstance(route, APIWebSocketRoute) else "http"
        method = sorted(route.methods)[0] if isinstance(route, APIRoute) else "GET"
        scope = {"type": kind, "path": path, "method": method, "root_path": "", "headers": [], "query_string": b""}
        fast = _first_match(app, scope, fast=True)
        assert fast is not None and fast[1] is not None, path
        assert fast == _first_match(app, scope, fast=False), path
        checked += 1
    assert checked > 200


def test_the_app_walk_asks_each_router_first(app: FastAPI) -> None:
    """Every included kefu Router is checked by its prefixes before FastAPI's per-candidate scope bookkeeping."""
    from kefu.web.routing import PrecheckedInclude

    if PrecheckedInclude is None:
        pytest.skip("this FastAPI copies included routes into the app: no router nodes to pre-check")
    included = [r for r in app.router.routes if isinstance(getattr(r, "original_router", None), Router)]
    assert len(included) > 30 and all(type(r) is PrecheckedInclude for r in included)


def test_unknown_paths_still_404(client: Any) -> None:
    """A path under no router's prefix falls through to the 404 problem document."""
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_a_bare_apirouter_is_refused(monkeypatch: Any, settings: Any) -> None:
    """A capability that declares a plain APIRouter would lose the pre-check: create_app refuses it."""
    bare = APIRouter(prefix="/api/v1/bare")
    real = registry.routers
    monkeypatch.setattr(registry, "routers", lambda leaf="api": [*real(leaf), bare] if leaf == "api" else real(leaf))
    try:
        create_app(settings)
    except TypeError as exc:
        assert "kefu.web.routing.Router" in str(exc)
    else:
        raise AssertionError("create_app accepted a bare APIRouter")


def test_the_public_api_lives_under_api_v1(app: FastAPI) -> None:
    """Routers are no longer nested, so a prefix slip would move an endpoint: every documented path is versioned."""
    outside = sorted(p for p in app.openapi()["paths"] if not p.startswith("/api/v1/"))
    assert set(outside) <= {"/healthz", "/readyz", "/metrics"}, outside
    assert "/api/v1/public/tickets/progress" in app.openapi()["paths"]


def test_a_request_walks_its_router_once(client: Any, monkeypatch: Any) -> None:
    """The included router's routes are walked once per request (FastAPI walks them in `matches` and in `handle`)."""
    from kefu.web import routing

    assert routing._INCLUDED is not None
    walked: list[tuple[int, Match]] = []
    original = routing._INCLUDED._match

    def counting(node: Any, scope: dict[str, Any]) -> Any:
        found = original(node, scope)
        walked.append((id(node), found[0]))
        return found

    monkeypatch.setattr(routing._INCLUDED, "_match", counting)
    assert client.get("/api/v1/tickets/123").status_code == 401  # routed (path parameter and all), then refused
    answering = [node for node, match in walked if match == Match.FULL]
    assert len(answering) == 1, walked  # other routers sharing the prefix may walk theirs once, without a match
    assert [node for node, _ in walked].count(answering[0]) == 1


def test_a_kept_match_is_only_reused_for_its_node_and_path(app: FastAPI) -> None:
    """Another path in the same scope dict walks again."""
    from kefu.web.routing import PrecheckedInclude, _remembered_match

    nodes = [r for r in app.router.routes if PrecheckedInclude is not None and type(r) is PrecheckedInclude]
    base = {"type": "http", "method": "GET", "root_path": "", "headers": [], "query_string": b""}
    scope = {**base, "path": "/api/v1/tickets/1"}
    found = [n for n in nodes if _remembered_match(n, dict(scope))[0] == Match.FULL]
    assert len(found) == 1
    node = found[0]
    assert _remembered_match(node, scope)[0] == Match.FULL  # kept in the scope
    scope["path"] = "/api/v1/nowhere"
    assert _remembered_match(node, scope)[0] == Match.NONE  # not the kept answer: another path
    assert "kefu.included_match" not in scope  # no match is kept
