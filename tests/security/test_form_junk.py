"""Junk posted to every page form (console, admin, ops, and the public portal, survey, login and reset forms): never a
5xx or a raise, and a customer-facing page answers with a page, never JSON or a trace.

The forms are not in OpenAPI (schemathesis never sees them). Every route is posted the field names any template
posts (plus the route's declared fields), all set to one kind of junk at a time: NUL bytes, over-long text,
non-numeric and huge numbers, impossible dates, invalid UTF-8 (what a lone surrogate becomes on the wire), then a
broken multipart body and a JSON body where a form is expected; ids in the path are A's own rows and then "abc".
A refused post (4xx) must also leave every table's row count as it was (one statement counts them all after a post).

An accepted post (2xx/3xx) may store what it was sent once cleaned (kefu.core.textrules drops NUL) or ignore the
fields it does not know. The walk sees: deletes, which take no field (follow-up rule, macro, shift, shift exception,
freeze webhook); text that is valid once cleaned (customer notes, QA findings, a routing rule's or FAQ's name); saves
that keep only their known fields and audit it (inbox, theme, review item, team members, report settings,
compensation, conversation assignment, QA item); the inbound event requeue (a job); and the reset request, 202 for
any input, which keeps the request's row for its rate limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.security.test_brand_walk import PASSWORD, _routes, build_brand_b, fill_path, page_form

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kefu" / "web" / "templates"
# Customer-facing pages: an error is a friendly page in the customer's language.
CUSTOMER = re.compile(r"^/(portal|survey|login|reset-password)(/|$)")
# Sign-out and the session's own password end the walk's session; they are walked by tests/security/test_sessions.
SKIP = ("/logout", "/console/me/password")
JUNK = {
    "nul": "a\x00b\x00",
    "long": "x" * 2100 + "長" * 100,  # past every varchar (≤ 2000) while the whole form stays under the 1 MiB limit
    "word": "abc",
    "huge": "9" * 40,
    "date": "2026-02-30T25:61",
}
# What a refused post (4xx) may still store. A failed sign-in is a 401 that records the attempt (the lockout counts
# them) and audits it; a throttled public route counts every request, refused ones too (or junk is never throttled).
REFUSALS_STORE = {"/login": frozenset({"login_attempts", "audit_log"})}
# A refused quality form re-renders the quality page, whose first view of a brand stores that brand's default causes
# (`quality.service.causes`): the defaults, not the refused input (which brand is first seen depends on walk order).
SEEDED_ON_VIEW = {"/console/quality/": frozenset({"quality_causes"})}
THROTTLE_HITS = "request_hits"
# PostgreSQL is where NUL and over-long text differ (SQLite stores both): the other kinds run on SQLite only.
PG_KINDS = ("nul", "long")


def _is_page(r: Any) -> bool:
    return str(r.headers.get("content-type", "")).startswith("text/html")


def _field_names() -> list[str]:
    names: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        names.update(re.findall(r'\bname="([a-z_][a-z0-9_]*)"', path.read_text(encoding="utf-8")))
    return sorted(names)


def _row_counts(connection: Any) -> Callable[[], dict[str, int]]:
    """The row count of every table, read in one statement (the walk reads it after each post)."""
    from sqlalchemy import inspect

    tables = sorted(t for t in inspect(connection).get_table_names() if t != "alembic_version")
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    return lambda: dict(zip(tables, connection.exec_driver_sql(sql).one(), strict=True))


def test_junk_in_every_page_form_is_never_a_server_error(
    app: Any, client: Any, make: Any, db: Any, connection: Any
) -> None:
    """Every page POST route, each junk kind, the broken bodies: < 500, no raise, customers get a page; a refused
    post (4xx) stores no row."""
    own = build_brand_b(db, make, mark="OWNJ")
    ids, number = own["ids"], own["ticket"].number
    admin = make.agent("admin", password=PASSWORD)
    names = _field_names()
    postgres = db.get_bind().dialect.name == "postgresql"
    failures: list[str] = []

    def login() -> dict[str, str]:
        client.cookies.clear()
        r = client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"X-CSRF-Token": r.json()["csrf_token"], "Accept-Language": "zh-TW"}

    headers = login()
    counts = _row_counts(connection)
    rows = counts()
    routes = [
        r
        for r in _routes(app)
        if "POST" in r.methods and not r.path.startswith("/api/") and not r.path.startswith(SKIP)
    ]
    assert len(routes) > 60
    for route in sorted(routes, key=lambda r: ("delete" in r.path, r.path)):
        path = fill_path(route.path, ids, number)
        paths = [p for p in (path, re.sub(r"\{[^}]+\}", "abc", route.path) if "{" in route.path else None) if p]
        for target in paths:
            base = page_form(route, ids)
            kinds = [k for k in JUNK if not postgres or k in PG_KINDS] if target == path else ["word"]
            sends: list[tuple[str, dict[str, Any]]] = [
                (kind, {"data": {**dict.fromkeys(names, JUNK[kind]), **dict.fromkeys(base, JUNK[kind])}})
                for kind in kinds
            ]
            bad_utf8 = "&".join(f"{n}=%ED%A0%80%FF" for n in [*base, "body", "email", "subject", "name"])
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            multipart = {"Content-Type": "multipart/form-data; boundary=zz"}
            if target == path and not postgres:
                sends += [
                    ("utf8", {"content": bad_utf8.encode(), "headers": form}),
                    (
                        "multipart",
                        {"content": b"--zz\r\nContent-Disposition: form-data\r\n\r\nx", "headers": multipart},
                    ),
                    ("json", {"json": {"body": "x"}}),
                ]
            for kind, kw in sends:
                kw["headers"] = {**headers, **kw.get("headers", {})}
                try:
                    r = client.post(target, follow_redirects=False, **kw)
                except Exception as exc:  # the test client re-raises what the server did not handle
                    failures.append(f"POST {target} [{kind}] -> raised {exc!r}"[:300])
                    rows = counts()
                    continue
                if r.status_code >= 500:
                    failures.append(f"POST {target} [{kind}] -> {r.status_code} {r.text[:200]}")
                elif CUSTOMER.match(route.path) and r.status_code not in (302, 303) and not _is_page(r):
                    failures.append(f"POST {target} [{kind}] -> {r.status_code} {r.headers.get('content-type')}")
                before, rows = rows, counts()
                may = REFUSALS_STORE.get(route.path, frozenset()).union(
                    *(t for pre, t in SEEDED_ON_VIEW.items() if route.path.startswith(pre))
                )
                stored = sorted(t for t in rows if rows[t] != before[t] and t not in may and t != THROTTLE_HITS)
                if 400 <= r.status_code < 500 and stored:
                    failures.append(f"POST {target} [{kind}] -> {r.status_code} but stored rows in {stored}")
                if r.status_code == 401 or r.headers.get("location", "").startswith("/login"):
                    headers = login()  # a junk form that ended the session (e.g. a changed role) must not hide the rest
                    rows = counts()
    assert not failures, f"{len(failures)} server errors or stored rows from junk forms:\n" + "\n".join(failures[:60])
