"""Every authenticated route declares its permission; a scoped token gets 403 wherever it is not scoped for."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from tests.security.test_route_matrix import _fill, _needs_auth, api_routes


def _protected(app: Any) -> list[tuple[APIRoute, str]]:
    out = []
    for route in api_routes(list(app.routes)):
        if route.path.startswith("/api/") and _needs_auth(route):
            out += [(route, m) for m in sorted(route.methods - {"HEAD", "OPTIONS"})]
    return out


def _alternatives(route: APIRoute, method: str) -> tuple[tuple[str, ...], ...]:
    from kefu.auth import scopes

    table, _ = scopes.declared(route, method)
    if table is not None:
        return table
    marks: list[str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        marks += list(getattr(dep.call, scopes.MARK, ()) or ())
        stack.extend(dep.dependencies)
    return (tuple(marks),) if marks else ()


def test_every_authenticated_route_declares_a_permission(app: Any) -> None:
    from kefu.auth import scopes

    undeclared = [f"{m} {r.path}" for r, m in _protected(app) if not _alternatives(r, m)]
    assert not undeclared, "declare with require(...) or kefu.auth.scopes.ROUTE_PERMISSIONS:\n" + "\n".join(undeclared)
    known = {(m, r.path) for r, m in _protected(app)}
    stale = [k for k in scopes.ROUTE_PERMISSIONS if k not in known]
    assert not stale, f"ROUTE_PERMISSIONS entries for routes that no longer exist: {stale}"


def test_scoped_tokens_refused_outside_their_scopes(app: Any, client: Any, make: Any) -> None:
    """All routes x all scopes: a token holding only `scope` gets 403 wherever the route needs something else."""
    from kefu.auth import scopes
    from kefu.auth.permissions import PERMISSIONS

    brand = make.brand()
    admin = make.agent("admin")
    ids = {"brand_id": brand.id}
    tokens = {scope: make.token(admin, scopes=[scope]) for scope in PERMISSIONS}
    failures: list[str] = []
    checked = 0
    for route, method in _protected(app):
        alternatives = _alternatives(route, method)
        for scope in PERMISSIONS:

            def holds(p: str, scope: str = scope, method: str = method) -> bool:
                if p == scopes.OWN:
                    return True
                if p == scopes.SELF:
                    return method in scopes.SAFE_METHODS
                return p == scope

            if any(all(holds(p) for p in alt) for alt in alternatives):
                continue
            body = {} if method in ("POST", "PUT", "PATCH") else None
            r = client.request(method, _fill(route.path, ids), json=body, headers=tokens[scope])
            checked += 1
            if r.status_code != 403:
                failures.append(f"{scope} token: {method} {route.path} -> {r.status_code}")
    assert checked > 500
    assert not failures, "\n".join(failures)


def test_kb_read_token_cannot_touch_the_account(client: Any, make: Any) -> None:
    agent = make.agent("agent", [make.brand()])
    h = make.token(agent, scopes=["kb:read"])
    r = client.patch(f"/api/v1/agents/{agent.id}", json={"password": "pwned password 1"}, headers=h)
    assert r.status_code == 403
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=h).status_code == 403
    assert client.get("/api/v1/me", headers=h).status_code == 200  # reading its own profile is fine
