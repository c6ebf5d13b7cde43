"""References across brands: a write on brand A's own objects that names one of brand B's rows in its body or form.

The walks in test_brand_walk.py put B's ids in the path (refused at the fetch) or name brand B itself in a body
(refused at `ensure_brand`), so a reference checked nowhere else — a team, an agent, a category, a ticket to merge —
is never reached there. Here agent A acts on A's own objects in A's brand, with exactly one id of the body (or form)
pointing at B's row at a time; afterwards no row may reference a row of another brand (`cross_brand_refs`: every
foreign key between brand-owned rows, and every agent named on a brand's row must work in that brand), and no answer
may carry B's text.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlalchemy import and_, func, select

from tests.security.test_brand_walk import (
    PUBLIC,
    _leak,
    _login,
    _routes,
    _schema_value,
    _show,
    _takes_an_id,
    build_brand_b,
    fill_path,
    page_form,
    request_body,
    snapshot,
)

# Columns that name an agent without giving the agent any part in the brand's work (who did it, who asked).
AGENT_HISTORY = frozenset({"actor_id", "created_by", "author_id", "agent_id", "requested_by", "recorded_by"})


def _brand_of(table: Any) -> Any:
    return table.c.get("brand_id")


def cross_brand_refs(db: Any) -> list[str]:
    """Rows referencing a row of another brand, or naming (to work on it) an agent who does not work in its brand."""
    import kefu.models  # noqa: F401
    from kefu.auth.models import Agent, AgentBrand
    from kefu.core.db import Base

    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        fks = [(col, next(iter(col.foreign_keys)).column.table) for col in table.columns if col.foreign_keys]
        brands = []
        stmt = select(func.count()).select_from(table)
        if _brand_of(table) is not None:
            brands.append((f"{table.name}.brand_id", _brand_of(table)))
        for col, target in fks:
            if col.name == "brand_id" or target is table or _brand_of(target) is None:
                continue
            alias = target.alias(f"ref_{col.name}")
            stmt = stmt.outerjoin(alias, alias.c[next(iter(col.foreign_keys)).column.name] == col)
            brands.append((f"{col.name}->{target.name}", alias.c.brand_id))
        for i, (name_a, a) in enumerate(brands):
            for name_b, b in brands[i + 1 :]:
                n = db.execute(stmt.where(and_(a.is_not(None), b.is_not(None), a != b))).scalar_one()
                if n:
                    found.append(f"{table.name}: {name_a} != {name_b} ({n} rows)")
        if not brands:
            continue
        own = brands[0][1]
        for col, target in fks:
            if target.name != "agents" or col.name in AGENT_HISTORY or table.name == "agent_brands":
                continue
            member = select(AgentBrand.agent_id).where(AgentBrand.agent_id == col, AgentBrand.brand_id == own).exists()
            admin = select(Agent.id).where(Agent.id == col, Agent.role == "admin").exists()
            n = db.execute(stmt.where(col.is_not(None), own.is_not(None), ~member, ~admin)).scalar_one()
            if n:
                found.append(f"{table.name}: {col.name} names an agent outside the row's brand ({n} rows)")
    return found


def _leaves(a: Any, b: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths where two bodies built with A's and with B's ids differ (the id fields)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a if k in b for p in _leaves(a[k], b[k], (*at, k))]
    if isinstance(a, list) and isinstance(b, list):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=False)) for p in _leaves(x, y, (*at, i))]
    return [at] if a != b else []


def _get(body: Any, at: tuple[Any, ...]) -> Any:
    for key in at:
        body = body[key]
    return body


def _put(body: Any, at: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    _get(out, at[:-1])[at[-1]] = value
    return out


def _swap(body: Any, other: Any, at: tuple[Any, ...]) -> Any:
    return _put(body, at, _get(other, at))


MISSING = 987654
NO_NUMBER = "ZQX-999999"


def _answer(r: Any, ident: Any) -> tuple[int, str]:
    """Status and problem detail, the named id written as N (so B's id and a missing one compare alike)."""
    try:
        detail = str(r.json().get("detail", ""))
    except ValueError:
        detail = ""
    return r.status_code, re.sub(rf"\b{ident}\b", "N", detail)


def test_own_objects_with_another_brands_reference(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every write (API and pages) on A's own objects, one body/form id at a time pointing at B's row."""
    world_b = build_brand_b(db, make)
    own = build_brand_b(db, make, mark="OWNA")
    ids_a, number = own["ids"], own["ticket"].number
    ids_b = {**world_b["ids"], "brands": ids_a["brands"]}  # acting in A's brand, naming B's rows
    agent_a = own["agent"]
    assert cross_brand_refs(db) == []
    bearer = make.token(agent_a)
    spec = app.openapi()
    failures: list[str] = []
    skip = ("/api/v1/auth/", "/api/v1/tokens", "/logout", "/api/v1/me")

    def send(method: str, path: str, body: Any, page: bool) -> Any:
        nonlocal bearer
        if page:
            return client.request(method, path, data=body, headers=_login(client, agent_a), follow_redirects=False)
        client.cookies.clear()
        r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
        if r.status_code == 401:
            bearer = make.token(agent_a)
            r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
        return r

    for route in sorted(_routes(app), key=lambda r: ("DELETE" in r.methods, r.path)):
        methods = sorted(route.methods & {"POST", "PUT", "PATCH"})
        if not methods or PUBLIC.search(route.path) or route.path.startswith(skip):
            continue
        path = fill_path(route.path, ids_a, number)
        if path is None:
            continue
        page = not route.path.startswith("/api/")
        for method in methods:
            if page:
                mine, theirs = page_form(route, ids_a), page_form(route, ids_b)
            else:
                op = spec["paths"].get(route.path, {}).get(method.lower(), {})
                schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                if schema is None:
                    mine = theirs = {}
                else:
                    mine, theirs = _schema_value(schema, spec, ids_a), _schema_value(schema, spec, ids_b)
            # A's own request as it is (exports, reveals, previews are POSTs): nothing of B's, although A's and
            # B's customers are the same person (same email and phone). Brand A's filled-in rows are not all valid
            # for every service, so a 4xx is fine here; a raise or a 5xx is a server error like any other.
            try:
                r = send(method, path, mine, page)
            except Exception as exc:
                failures.append(f"{method} {path} (own ids) -> raised {exc!r}"[:300])
            else:
                if r.status_code >= 500 or _leak(r):
                    failures.append(f"{method} {path} (own ids) -> {r.status_code} {_show(r)}")
            for at in _leaves(mine, theirs):
                body = _swap(mine, theirs, at)
                before = cross_brand_refs(db)
                try:
                    r = send(method, path, body, page)
                except Exception as exc:
                    failures.append(f"{method} {path} {at} -> raised {exc!r}"[:300])
                    continue
                if r.status_code >= 500 or _leak(r):
                    failures.append(f"{method} {path} {at} -> {r.status_code} {_show(r)}")
                after = cross_brand_refs(db)
                if after != before:
                    new = sorted(set(after) - set(before))
                    failures.append(f"{method} {path} {at} -> {r.status_code} stored {new}")
                if page or r.status_code < 400:
                    continue
                # No existence oracle: naming B's row answers exactly as naming no row at all.
                foreign = _get(theirs, at)
                nowhere = send(method, path, _put(mine, at, MISSING), page)
                alike = (
                    nowhere.status_code == r.status_code and nowhere.text.replace(str(MISSING), str(foreign)) == r.text
                )
                if not alike and _answer(r, foreign) != _answer(nowhere, MISSING):
                    failures.append(
                        f"{method} {path} {at}: B's row {_answer(r, foreign)} but no row {_answer(nowhere, MISSING)}"
                    )
    assert not failures, "brand A's objects now reference brand B's:\n" + "\n".join(failures)


def mixed_paths(path: str, ids_a: dict[str, Any], ids_b: dict[str, Any], number: str) -> list[str]:
    """A path with two or more ids, once per id: that one B's, the others A's (a ticket of A with B's link)."""
    a, b = fill_path(path, ids_a, number), fill_path(path, ids_b, number)
    if a is None or b is None:
        return []
    parts, pa, pb = path.split("/"), a.split("/"), b.split("/")
    ids = [i for i, seg in enumerate(parts) if "{" in seg and _takes_an_id(seg) and "{number" not in seg]
    return [] if len(ids) < 2 else ["/".join(pb[j] if j == i else pa[j] for j in range(len(parts))) for i in ids]


def test_one_of_several_path_ids_of_another_brand(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every route with two ids in its path (API and pages, every method), one of them B's: 403/404/405/422, nothing
    of B in the answer, no row of A now referencing B."""
    world_b = build_brand_b(db, make)
    own = build_brand_b(db, make, mark="OWNA")
    ids_a, number = own["ids"], own["ticket"].number
    agent_a = own["agent"]
    bearer = make.token(agent_a)
    spec = app.openapi()
    failures: list[str] = []
    for route in sorted(_routes(app), key=lambda r: ("DELETE" in r.methods, r.path)):
        if PUBLIC.search(route.path):
            continue
        page = not route.path.startswith("/api/")
        for path in mixed_paths(route.path, ids_a, world_b["ids"], number):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                try:
                    if page:
                        headers = _login(client, agent_a)
                        form = page_form(route, ids_a) if method == "POST" else None
                        r = client.request(method, path, data=form, headers=headers, follow_redirects=False)
                    else:
                        client.cookies.clear()
                        body = request_body(spec, route.path, method, ids_a)
                        r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
                        if r.status_code == 401:
                            bearer = make.token(agent_a)
                            r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
                except Exception as exc:
                    failures.append(f"{method} {path} -> raised {exc!r}"[:300])
                    continue
                if r.status_code not in (403, 404, 405, 422) or _leak(r):
                    failures.append(f"{method} {path} -> {r.status_code} {_show(r)}")
    stored = cross_brand_refs(db)
    assert not failures, "a path mixing brand A's and B's ids got through:\n" + "\n".join(failures)
    assert not stored, stored


def test_page_forms_naming_another_brand(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every page form without an id in its path (admin and console creates, bulk actions), its fields naming
    brand B and B's rows: B's rows stay as they were and nothing of B comes back (the API's walk, for forms)."""
    world = build_brand_b(db, make)
    agent_a = make.agent("supervisor", [make.brand()])
    before = snapshot(db, world["brand"].id)
    failures: list[str] = []
    for route in _routes(app):
        if "{" in route.path or "POST" not in route.methods or route.path.startswith("/api/"):
            continue
        if PUBLIC.search(route.path) or route.path in ("/login", "/logout", "/reset-password"):
            continue
        headers = _login(client, agent_a)
        try:
            r = client.post(route.path, data=page_form(route, world["ids"]), headers=headers, follow_redirects=False)
        except Exception as exc:
            failures.append(f"POST {route.path} -> raised {exc!r}"[:300])
            continue
        if r.status_code >= 500 or _leak(r):
            failures.append(f"POST {route.path} -> {r.status_code} {_show(r)}")
    after = snapshot(db, world["brand"].id)
    changed = sorted(t for t in before if before[t] != after[t])
    assert not failures, "\n".join(failures)
    assert not changed, f"a supervisor of brand A changed brand B's rows through a form in: {changed}"
    assert cross_brand_refs(db) == []


def test_another_brands_ids_answer_as_missing_ones(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every API route with ids in its path, every method: B's ids get the very answer (status and detail, ids
    written as N) that ids of no row get, so a stranger cannot tell which ids exist in another brand."""
    world = build_brand_b(db, make)
    ids_b, number = world["ids"], world["ticket"].number
    nowhere = {k: MISSING for k in ids_b}
    agent_a = make.agent("supervisor", [make.brand()])
    bearer = make.token(agent_a)
    spec = app.openapi()
    failures: list[str] = []
    for route in sorted(_routes(app), key=lambda r: ("DELETE" in r.methods, r.path)):
        if not route.path.startswith("/api/") or PUBLIC.search(route.path) or not _takes_an_id(route.path):
            continue
        theirs, missing = fill_path(route.path, ids_b, number), fill_path(route.path, nowhere, NO_NUMBER)
        if theirs is None or missing is None:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            answers = []
            for path, ids in ((theirs, ids_b), (missing, nowhere)):
                body = request_body(spec, route.path, method, ids)
                client.cookies.clear()
                r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
                if r.status_code == 401:
                    bearer = make.token(agent_a)
                    r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
                status, detail = _answer(r, MISSING)
                for ident in {str(v) for v in ids_b.values()} | {number, NO_NUMBER}:
                    detail = re.sub(rf"\b{re.escape(ident)}\b", "N", detail)
                answers.append((status, detail))
            if answers[0] != answers[1]:
                failures.append(f"{method} {route.path}: B's ids {answers[0]}, no rows {answers[1]}")
    assert not failures, "another brand's ids answer differently from missing ones:\n" + "\n".join(failures)


def test_an_auditor_changes_nothing_through_pages(app: Any, client: Any, make: Any, db: Any) -> None:
    """An auditor of brand A (read-only) posts every console/admin form on A's own objects: A's rows stay as they
    were (the API's permissions are walked per role in test_route_matrix; forms check inside their handlers)."""
    own = build_brand_b(db, make, mark="OWNA")
    ids, number = own["ids"], own["ticket"].number
    auditor = make.agent("auditor", [own["brand"]])
    before = snapshot(db, own["brand"].id)
    skip = ("/login", "/logout", "/reset-password", "/console/notifications", "/console/views", "/console/me")
    changed_by: list[str] = []
    for route in sorted(_routes(app), key=lambda r: ("delete" in r.path, r.path)):
        if "POST" not in route.methods or route.path.startswith(("/api/", *skip)) or PUBLIC.search(route.path):
            continue
        path = fill_path(route.path, ids, number)
        if path is None:
            continue
        headers = _login(client, auditor)
        r = client.post(path, data=page_form(route, ids), headers=headers, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code)
        after = snapshot(db, own["brand"].id)
        if after != before:
            changed_by.append(f"POST {path} -> {r.status_code}: {sorted(t for t in before if before[t] != after[t])}")
            before = after
    assert not changed_by, "an auditor changed brand A through a form:\n" + "\n".join(changed_by)


def test_the_scan_sees_a_cross_brand_reference(db: Any, make: Any) -> None:
    """The invariant itself: a ticket of A filed under B's team is found."""
    from kefu.tickets.models import Ticket

    world_b = build_brand_b(db, make)
    own = build_brand_b(db, make, mark="OWNA")
    assert cross_brand_refs(db) == []
    ticket = db.get(Ticket, own["ticket"].id)
    ticket.team_id = world_b["ids"]["teams"]
    db.commit()
    assert any(f.startswith("tickets: ") for f in cross_brand_refs(db))
