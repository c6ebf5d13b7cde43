"""Bad values on every route (path, query, cursor, form, JSON) give a 4xx, never a 500."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from tests.security.test_route_matrix import _world, api_routes

BAD_SCALARS = ["abc", "-1", "99999999999999999999999", "¹²", "1.5", "", "%00", "x" * 300, "[]", "null"]


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!!",
    "e30",
    _cursor([{"dt": "not a date"}, 1]),
    _cursor(["abc", "def"]),
    _cursor([{"dt": "2026-01-01T00:00:00+00:00"}, "x"]),
    _cursor([1.5e308, {"dt": "2026-01-01"}]),
    _cursor([True, None]),
    _cursor([99999999999999999999999, 1]),
    _cursor([1, 2, 3]),
]
FORM_JUNK = {
    "assignee_id": "abc",
    "team_id": "１２",
    "brand_id": "x",
    "status": "\x00",
    "priority": "¹",
    "conversation_id": "-",
    "faq_id": "²",
    "rating": "五",
    "agent_ids": "a",
    "brand_ids": "b",
    "capacity": "1e9",
    "body": "x",
}


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: value, path)


def test_bad_values_never_500(app: Any, client: Any, make: Any, db: Any) -> None:
    _world(db, make)
    admin = make.agent("admin")
    token = make.token(admin)
    r = client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"})
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    failures: list[str] = []

    def check(method: str, url: str, **kw: Any) -> None:
        try:
            resp = client.request(method, url, **kw)
        except Exception as exc:  # the test client re-raises what the server did not handle
            failures.append(f"{method} {url} {str(kw)[:120]} -> {type(exc).__name__}: {str(exc)[:160]}")
            return
        if resp.status_code >= 500:
            failures.append(f"{method} {url} {str(kw)[:120]} -> {resp.status_code} {resp.text[:160]}")

    for route in api_routes(list(app.routes)):
        api = route.path.startswith("/api/")
        headers = token if api else csrf
        queries = [p.alias for p in route.dependant.query_params]
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for value in ("abc", "99999999999999999999999", "¹"):
                body: dict[str, Any] = {"json": [[[]]]} if api else {"data": FORM_JUNK}
                if method == "GET":
                    body = {}
                check(method, _fill(route.path, value), headers=headers, **body)
            if "{" in route.path:
                continue  # the rest needs a route that resolves; path params were covered above
            for name in queries:
                for value in BAD_SCALARS:
                    check(method, route.path, params={name: value}, headers=headers)
                if name == "cursor":
                    for cursor in BAD_CURSORS:
                        check(method, route.path, params={"cursor": cursor}, headers=headers)
            if method != "GET":
                if api:
                    for junk in ([], "x", None, {"a": {"b": [1] * 3}}, "[" * 100 + "]" * 100):
                        raw = junk if isinstance(junk, str) and junk.startswith("[") else json.dumps(junk)
                        check(method, route.path, content=raw, headers={**headers, "Content-Type": "application/json"})
                else:
                    check(method, route.path, data=FORM_JUNK, headers=headers)
    assert not failures, "\n".join(failures[:60])
