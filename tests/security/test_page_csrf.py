"""CSRF on every page form: console/admin/ops writes go through page_context (session + X-CSRF-Token); the few public
forms have their own guard, listed here with it. A new page route that writes without either fails."""

from __future__ import annotations

import re
from typing import Any

from tests.security.test_brand_walk import _login, _routes

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Public forms and the guard each one uses instead of the session's CSRF token.
OWN_GUARD = {
    "/login": "Origin must be ours (pages._same_origin); no session exists yet",
    "/reset-password": "Origin check; the emailed token authorises the change",
    "/reset-password/request": "Origin check; same answer whether or not the account exists",
    "/portal/{slug}/vote": "double-submit cookie (PORTAL_CSRF)",
    "/portal/{slug}/new": "double-submit cookie (PORTAL_CSRF)",
    "/portal/{slug}/track": "double-submit cookie (PORTAL_CSRF)",
    "/portal/{slug}/callback": "double-submit cookie (PORTAL_CSRF)",
    "/survey/{token}": "the signed survey token in the path is the credential",
    "/survey/c/{token}": "the signed campaign token in the path is the credential",
}


def _depends_on(route: Any, call: Any) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is call:
            return True
        stack.extend(dep.dependencies)
    return False


def _page_writes(app: Any) -> list[Any]:
    return [r for r in _routes(app) if not r.path.startswith("/api/") and r.methods & UNSAFE]


def test_every_page_write_checks_csrf(app: Any) -> None:
    from kefu.web.pages import page_context

    unguarded = sorted(
        r.path for r in _page_writes(app) if not _depends_on(r, page_context) and r.path not in OWN_GUARD
    )
    assert not unguarded, f"page writes without page_context (CSRF) or a listed guard: {unguarded}"
    stale = set(OWN_GUARD) - {r.path for r in _page_writes(app)}
    assert not stale, f"OWN_GUARD lists routes that are gone: {sorted(stale)}"


def test_page_writes_refuse_a_session_without_the_token(app: Any, client: Any, make: Any) -> None:
    """A logged-in browser tricked into posting (no X-CSRF-Token) gets 403 on every console/admin/ops form."""
    from kefu.web.pages import page_context

    brand = make.brand()
    _login(client, make.agent("admin", [brand]))
    failures = []
    for route in _page_writes(app):
        if not _depends_on(route, page_context):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods & UNSAFE):
            r = client.request(method, path, data={"x": "1"}, follow_redirects=False)
            if r.status_code != 403:
                failures.append(f"{method} {path} -> {r.status_code}")
    assert not failures, "\n".join(failures)


def test_cross_site_login_and_reset_are_refused(client: Any) -> None:
    evil = {"Origin": "https://evil.example"}
    assert client.post("/login", data={"email": "a@b.c", "password": "x"}, headers=evil).status_code == 403
    r = client.post("/reset-password/request", data={"email": "a@b.c"}, headers=evil)
    assert r.status_code == 403
