"""Every route, every transport, against another brand's objects: a supervisor of brand A gets 403/404 and never a byte
of brand B's data, and B's rows stay as they were.

Brand B gets a row of every brand-owned table (services for the core objects, the rest filled from the schema with a
marker in every text column), so a new table is covered without editing this file. Every path parameter of every
route must map to one of B's rows (or be listed as public / not an id): a new route with a new id parameter fails here
until it is mapped, and then it is walked.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kefu.conversations.commands import CreateConversation

MARK = "ZQXLEAK"  # in every text column of brand B; must never reach agent A
PASSWORD = "correct horse 1"

# Route parameter -> table of brand B whose id it takes ((path prefix, param) first, then the param alone).
PARAM_TABLES: dict[str, str] = {
    "ticket_id": "tickets",
    "conversation_id": "conversations",
    "brand_id": "brands",
    "customer_id": "customers",
    "team_id": "teams",
    "inbox_id": "inboxes",
    "complaint_id": "complaints",
    "faq_id": "kb_faqs",
    "opportunity_id": "care_opportunities",
    "sample_id": "quality_audit_samples",
    "incident_id": "security_incidents",
    "broadcast_id": "notice_broadcasts",
    "case_id": "regulator_cases",
    "article_id": "kb_articles",
    "plan_id": "quality_plans",
    "callback_id": "callbacks",
    "compensation_id": "compensations",
    "review_id": "qa_reviews",
    "policy_id": "sla_policies",
    "calendar_id": "sla_calendars",
    "campaign_id": "survey_campaigns",
    "attachment_id": "channel_attachments",
    "message_id": "messages",
    "org_id": "organizations",
    "follow_up_id": "follow_ups",
    "canned_id": "canned_responses",
    "exception_id": "shift_exceptions",
    "macro_id": "ticket_macros",
    "cause_id": "quality_causes",
    "notification_id": "notifications",
    "link_id": "ticket_links",
    "category_id": "ticket_categories",
    "field_id": "ticket_field_definitions",
    "pattern_id": "shift_patterns",
    "view_id": "saved_ticket_views",
    "outbox_id": "outbox",
    "event_id": "inbound_events",
    "request_id": "privacy_requests",
    "agent_id": "agents",
    "token_id": "api_tokens",
    "job_id": "jobs",
}
PREFIXED: dict[tuple[str, str], str] = {
    ("/api/v1/bot/review/", "item_id"): "bot_review_items",
    ("/admin/review/", "item_id"): "bot_review_items",
    ("/api/v1/quality/plan-items/", "item_id"): "quality_plan_items",
    ("/console/quality/items/", "item_id"): "quality_plan_items",
    ("/api/v1/follow-up-rules/", "rule_id"): "follow_up_rules",
    ("/admin/follow-up-rules/", "rule_id"): "follow_up_rules",
    ("/api/v1/routing/rules/", "rule_id"): "routing_rules",
    ("/admin/routing/rules/", "rule_id"): "routing_rules",
    ("/api/v1/organizations/", "report_id"): "org_reports",
}
# Body and form fields naming a row whose name is not its table's parameter (`assignee_id` is an agent).
BODY_REFS: dict[str, str] = {
    "assignee_id": "agents",
    "owner_id": "agents",
    "reviewer_id": "agents",
    "reporter_id": "agents",
    "dedicated_team_id": "teams",
    "organization_id": "organizations",
    "source_id": "customers",
    "source_ids": "tickets",
    "target_id": "tickets",
    "scorecard_id": "qa_scorecards",
    "after_id": "messages",
}


def ref_table(name: str) -> str | None:
    """The table a body or form field named `name` takes an id of (None: not an id)."""
    return BODY_REFS.get(name) or PARAM_TABLES.get(f"{name.removesuffix('_ids').removesuffix('_id')}_id")


# Parameters that are not row ids: a fixed value is enough.
NOT_IDS = {
    "kind": "weekly",
    "fmt": "csv",
    "action": "approve",
    "quarter": "2026Q1",
    "category": "billing",
    "filename": "x.txt",
    "step": "acknowledge",  # the complaint / regulator-letter step of a case page (a fixed word, not an id)
}
# Customer- and provider-facing routes: public by design (a brand's slug, a signed token, a channel's own secret).
PUBLIC = re.compile(
    r"^/(portal|survey)/|^/api/v1/(public|surveys|widget)/|^/api/v1/channels/(line|messenger|board|api)/"
    r"|^/api/v1/channels/phone/\{inbox_id\}/|^/api/v1/channels/media/"
)


def _routes(app: Any) -> list[Any]:
    from tests.security.test_route_matrix import api_routes

    found: list[Any] = []

    def walk(routes: list[Any]) -> None:
        for r in routes:
            if hasattr(r, "original_router"):
                walk(list(r.original_router.routes))
            elif hasattr(r, "path") and hasattr(r, "methods"):
                found.append(r)

    walk(list(app.routes))
    assert {r.path for r in api_routes(list(app.routes))} <= {r.path for r in found}
    return found


# ---------------------------------------------------------------------------------------------- brand B's world


def _value(col: Any, table: str, ids: dict[str, int], mark: str = MARK) -> Any:
    """A valid value for a required column of `table` in brand B."""
    from kefu.core.db import utcnow

    for fk in col.foreign_keys:
        return ids[fk.column.table.name]
    for ck in col.table.constraints:
        text = str(getattr(ck, "sqltext", ""))
        m = re.match(rf"\s*{col.name} IN \('([^']+)'", text)
        if m:
            return m.group(1)
    impl = getattr(col.type, "impl", col.type)  # a TypeDecorator (UTCDateTime) stores through its impl
    kind = type(impl).__name__.upper()
    try:
        py = impl.python_type
    except NotImplementedError:
        py = None
    if py is datetime:
        return utcnow() + timedelta(days=2)
    if py is date:
        return date.today() + timedelta(days=2)
    if "INT" in kind:
        return 1 if mark == MARK else 2  # unique (source, source_id) pairs stay unique across the two brands
    if kind in ("FLOAT", "DOUBLE", "NUMERIC", "DOUBLE_PRECISION", "REAL"):
        return 1.0
    if kind == "BOOLEAN":
        return True
    if kind in ("BLOB", "LARGEBINARY"):
        return b"x"
    if kind in ("JSON", "JSONB"):
        return {}
    length = getattr(col.type, "length", None) or 200
    return f"{mark}{table}{uuid.uuid4().hex}"[: max(1, length)]


# Computed state that only its own service may write (a synthetic row would not parse); no route takes its id.
DERIVED = frozenset({"ticket_sla", "ticket_sla_targets"})
SHARED_EMAIL, SHARED_PHONE = "same.person@example.com", "0912345678"  # one person, a customer of both brands


def build_brand_b(db: Any, make: Any, mark: str = MARK) -> dict[str, Any]:
    """Brand B with an agent, core objects through the services and a row of every other brand-owned table.

    Its customer has the same email and phone as a customer of any other brand built here (one real person),
    so a lookup that matches identities across brands shows up as a leak."""
    import kefu.models  # noqa: F401
    from kefu.auth.models import Agent
    from kefu.auth.service import create_team
    from kefu.brands.service import create_inbox
    from kefu.channels.storage import store
    from kefu.conversations.service import add_message, create_conversation
    from kefu.core.db import Base
    from kefu.tickets.service import create_ticket

    brand = make.brand(name=f"{mark} brand", ticket_prefix=mark[:3])
    agent_b = make.agent("supervisor", [brand])
    cust = make.customer(brand, name=f"{mark} 王", email=SHARED_EMAIL, phone=SHARED_PHONE)
    team = create_team(db, brand_id=brand.id, slug=mark.lower()[:12], name=f"{mark} team", description=mark, actor=None)
    inbox = create_inbox(db, brand, kind="web_chat", name=f"{mark} inbox", config={}, actor=None)
    cmd = CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat", inbox_id=inbox.id)
    conv = create_conversation(db, cmd, actor=None)
    msg, _ = add_message(db, conv, sender_type="customer", body=f"{mark} message 0912345678")
    ticket = create_ticket(
        db, actor=None, brand_id=brand.id, subject=f"{mark} subject", description=f"{mark} body", customer_id=cust.id
    )
    name, data = f"{mark}.txt", mark.encode()
    att = store(db, brand_id=brand.id, conversation_id=conv.id, filename=name, content_type="text/plain", data=data)
    db.flush()
    ids: dict[str, int] = {
        "brands": brand.id,
        "agents": agent_b.id,
        "customers": cust.id,
        "teams": team.id,
        "inboxes": inbox.id,
        "conversations": conv.id,
        "messages": msg.id,
        "tickets": ticket.id,
        "channel_attachments": att.id,
    }
    # Every other table with a brand_id (in dependency order, so foreign keys find B's rows).
    for table in Base.metadata.sorted_tables:
        if "brand_id" not in table.c or table.name in ids or table.name in DERIVED:
            continue
        existing = db.execute(select(table).where(table.c.brand_id == brand.id)).first()
        if existing is not None:  # made by a service above (counters, identities, SLA clocks...)
            pk_cols = list(table.primary_key.columns)
            if len(pk_cols) == 1:
                ids[table.name] = existing._mapping[pk_cols[0].name]
            continue
        values: dict[str, Any] = {}
        for col in table.columns:
            serial = type(col.type).__name__.upper() in ("INTEGER", "BIGINTEGER", "BIGINT")
            if col.primary_key and len(table.primary_key.columns) == 1 and not col.foreign_keys and serial:
                continue
            if col.name == "brand_id":
                values[col.name] = brand.id
            elif col.name in ("agent_id", "owner_id", "created_by") and any(
                fk.column.table.name == "agents" for fk in col.foreign_keys
            ):
                values[col.name] = agent_b.id
            elif not col.nullable and col.default is None and col.server_default is None:
                values[col.name] = _value(col, table.name, ids, mark)
            elif col.foreign_keys and not col.primary_key:
                target = next(iter(col.foreign_keys)).column.table.name
                if target in ids:
                    values[col.name] = ids[target]
        with db.begin_nested():
            res = db.execute(table.insert().values(**values))
        pk = res.inserted_primary_key
        if pk and isinstance(pk[0], int):
            ids[table.name] = pk[0]
    db.commit()
    ids["api_tokens"] = _token(db, agent_b)
    ids["jobs"] = 1
    assert db.get(Agent, agent_b.id) is not None
    return {"brand": brand, "agent": agent_b, "ids": ids, "ticket": ticket, "conversation": conv}


def _token(db: Any, agent: Any) -> int:
    from kefu.auth.service import create_token

    row, _ = create_token(db, agent, name="b", scopes=None, expires_at=None, actor=None)
    db.commit()
    return int(row.id)


def snapshot(db: Any, brand_id: int) -> dict[str, list[Any]]:
    """Brand B's rows in every brand-owned table (audit and notification side tables excluded)."""
    from kefu.core.db import Base

    skip = {"audit_log", "notifications", "config_versions", "analytics_ticket_stats", "analytics_ticket_hours"}
    db.expire_all()
    out: dict[str, list[Any]] = {}
    for table in Base.metadata.sorted_tables:
        if "brand_id" in table.c and table.name not in skip:
            rows = db.execute(select(table).where(table.c.brand_id == brand_id)).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


# ---------------------------------------------------------------------------------------------- requests


def fill_path(path: str, ids: dict[str, Any], number: str) -> str | None:
    """The path with B's ids; None when a parameter is not mapped (reported by the completeness test)."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1).split(":")[0]
        if name == "number":
            return number
        if name in NOT_IDS:
            return NOT_IDS[name]
        table = next((t for (pre, p), t in PREFIXED.items() if p == name and path.startswith(pre)), None)
        table = table or PARAM_TABLES.get(name)
        if table is None or table not in ids:
            missing = True
            return "0"
        return str(ids[table])

    out = re.sub(r"\{([^}]+)\}", sub, path)
    return None if missing else out


def _schema_value(schema: dict[str, Any], spec: dict[str, Any], ids: dict[str, Any], name: str = "") -> Any:
    """A plausible value of an OpenAPI schema, ids pointing at brand B's rows (the strongest cross-brand request)."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _schema_value(options[0], spec, ids, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _schema_value(v, spec, ids, k) for k, v in props.items()}
    if kind == "array":
        n = max(1, schema.get("minItems", 1))
        return [_schema_value(schema.get("items", {}), spec, ids, name) for _ in range(n)]
    if kind == "integer" or kind == "number":
        table = ref_table(name)
        if table and table in ids and isinstance(ids[table], int):
            return ids[table]
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-02T10:00:00+08:00"  # in the past: most timestamps (acknowledged_at...) must be
        if fmt == "date":
            return "2026-01-02"
        pattern = schema.get("pattern", "")
        choice = re.fullmatch(r"\^\(?([\w-]+)(\|[^)$]*)?\)?\$", pattern)
        if choice:
            return choice.group(1)
        if pattern.startswith("^\\d{1,2}:"):
            return "09:00"
        if fmt == "email":
            return "probe@example.com"
        if name == "timezone":
            return "Asia/Taipei"
        return "probe"[: schema.get("maxLength", 5)].ljust(schema.get("minLength", 0), "x")
    return None


def request_body(spec: dict[str, Any], path: str, method: str, ids: dict[str, Any]) -> Any:
    """A schema-valid JSON body for the operation (None when it takes none)."""
    op = spec["paths"].get(path, {}).get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return _schema_value(content["application/json"]["schema"], spec, ids)
    return {} if method in ("POST", "PUT", "PATCH") else None


def page_form(route: Any, ids: dict[str, Any]) -> dict[str, str]:
    """Form fields of a page route, ids pointing at brand B's rows."""
    out: dict[str, str] = {}
    dependant = getattr(route, "dependant", None)
    for field in dependant.body_params if dependant is not None else []:
        name = field.alias
        table = ref_table(name)
        annotation = str(getattr(field.field_info, "annotation", ""))
        if table and table in ids:
            out[name] = str(ids[table])
        elif "int" in annotation or "float" in annotation:
            out[name] = "1"
        elif "bool" in annotation:
            out[name] = "true"
        else:
            out[name] = "probe note"
    return out


def _takes_an_id(path: str) -> bool:
    return any(p.split(":")[0] not in NOT_IDS for p in re.findall(r"\{([^}]+)\}", path))


def _login(client: Any, agent: Any) -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def _leak(r: Any) -> bool:
    return MARK.lower() in r.text.lower()


def _show(r: Any) -> str:
    """Where brand B's marker shows up in the response (or its start)."""
    at = r.text.lower().find(MARK.lower())
    return repr(r.text[max(0, at - 120) : at + 60] if at >= 0 else r.text[:160])


# ---------------------------------------------------------------------------------------------- tests


def test_no_signed_in_route_is_taken_for_a_public_one(app: Any) -> None:
    """PUBLIC keeps routes out of these walks; one that needs a login (agents' call logging once matched
    `channels/phone/`) would skip every brand check here."""
    from tests.security.test_route_matrix import _needs_auth, api_routes

    hidden = sorted(r.path for r in api_routes(list(app.routes)) if PUBLIC.search(r.path) and _needs_auth(r))
    assert not hidden, f"signed-in routes matched as public: {hidden}"


def test_every_route_parameter_maps_to_brand_b(app: Any, client: Any, make: Any, db: Any) -> None:
    """A new route with an unmapped id parameter fails here (map it in PARAM_TABLES / PREFIXED / NOT_IDS)."""
    world = build_brand_b(db, make)
    unmapped = sorted(
        f"{sorted(r.methods)} {r.path}"
        for r in _routes(app)
        if "{" in r.path and not PUBLIC.search(r.path) and fill_path(r.path, world["ids"], "x") is None
    )
    assert not unmapped, "unmapped path parameters:\n" + "\n".join(unmapped)
    missing = sorted({t for t in [*PARAM_TABLES.values(), *PREFIXED.values()] if t not in world["ids"]})
    assert not missing, f"brand B has no row in: {missing}"


@pytest.mark.parametrize("role", ["supervisor", "auditor"])
def test_other_brands_objects_on_every_route(app: Any, client: Any, make: Any, db: Any, role: str) -> None:
    """Agent A on every id route with B's ids, API (token) and pages (session + CSRF): 403/404, no B data, no change."""
    world = build_brand_b(db, make)
    ids, number = world["ids"], world["ticket"].number
    brand_a = make.brand()
    agent_a = make.agent(role, [brand_a])
    bearer = make.token(agent_a)
    spec = app.openapi()
    before = snapshot(db, world["brand"].id)
    failures: list[str] = []
    routes = [r for r in _routes(app) if _takes_an_id(r.path) and not PUBLIC.search(r.path)]
    routes.sort(key=lambda r: ("DELETE" in r.methods, r.path))  # deletes last, so the rest see every row
    for route in routes:
        path = fill_path(route.path, ids, number)
        if path is None:
            continue
        page = not route.path.startswith("/api/")
        headers = _login(client, agent_a) if page else bearer
        if not page:
            client.cookies.clear()
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            try:
                if page:
                    form = page_form(route, ids) if method == "POST" else None
                    r = client.request(method, path, data=form, headers=headers, follow_redirects=False)
                else:
                    body = request_body(spec, route.path, method, ids)
                    r = client.request(method, path, json=body, headers=headers, follow_redirects=False)
                if r.status_code == 401 and not page:  # an earlier route revoked the token (logout)
                    bearer = make.token(agent_a)
                    r = client.request(method, path, json=body, headers=bearer, follow_redirects=False)
            except Exception as exc:  # the server raised: no answer at all is not a denial either
                failures.append(f"{method} {path} -> raised {exc!r}"[:300])
                continue
            ok = r.status_code in (403, 404, 405, 422) or (r.status_code == 303 and "/login" in r.headers["location"])
            if not ok or _leak(r):
                failures.append(f"{method} {path} -> {r.status_code} {_show(r)}")
    after = snapshot(db, world["brand"].id)
    changed = sorted(t for t in before if before[t] != after[t])
    assert not failures, f"{role} of brand A reached brand B:\n" + "\n".join(failures)
    assert not changed, f"{role} of brand A changed brand B's rows in: {changed}"


def test_creating_or_acting_in_another_brand_through_bodies(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every API write without a path id, its body naming brand B and B's rows (mass assignment, cross-brand
    create, bulk actions): B's rows stay as they were and nothing of B comes back."""
    world = build_brand_b(db, make)
    ids = world["ids"]
    agent_a = make.agent("supervisor", [make.brand()])
    bearer = make.token(agent_a)
    spec = app.openapi()
    before = snapshot(db, world["brand"].id)
    failures: list[str] = []
    skip = re.compile(r"^/api/v1/(auth/|tokens$)")  # the caller's own session and tokens
    for route in _routes(app):
        if (
            "{" in route.path
            or PUBLIC.search(route.path)
            or not route.path.startswith("/api/")
            or skip.search(route.path)
        ):
            continue
        for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            body = request_body(spec, route.path, method, ids)
            client.cookies.clear()
            try:
                r = client.request(method, route.path, json=body, headers=bearer, follow_redirects=False)
            except Exception as exc:
                failures.append(f"{method} {route.path} -> raised {exc!r}"[:300])
                continue
            if r.status_code == 401:
                bearer = make.token(agent_a)
            elif _leak(r):
                failures.append(f"{method} {route.path} -> {r.status_code} {_show(r)}")
    after = snapshot(db, world["brand"].id)
    changed = sorted(t for t in before if before[t] != after[t])
    assert not failures, "\n".join(failures)
    assert not changed, f"a supervisor of brand A changed brand B's rows in: {changed}"


def _walk_gets(
    app: Any, client: Any, agent: Any, bearer: dict[str, str], ids: dict[str, Any], number: str, *, with_an_id: bool
) -> list[str]:
    """GET every route (API with the bearer token, pages signed in as `agent`) with `ids` in the path: what leaks."""
    failures: list[str] = []
    csrf: dict[str, str] = {}
    for route in _routes(app):
        if "GET" not in route.methods or (with_an_id and not _takes_an_id(route.path)) or PUBLIC.search(route.path):
            continue
        path = fill_path(route.path, ids, number)
        if path is None:
            continue
        try:
            if route.path.startswith("/api/"):
                client.cookies.clear()
                csrf = {}
                r = client.get(path, headers=bearer, follow_redirects=False)
            else:
                csrf = csrf or _login(client, agent)
                r = client.get(path, headers=csrf, follow_redirects=False)
        except Exception as exc:
            failures.append(f"GET {path} -> raised {exc!r}"[:300])
            continue
        if r.status_code >= 500 or _leak(r):
            failures.append(f"GET {path} -> {r.status_code} {_show(r)}")
    return failures


def test_own_objects_never_pull_in_another_brands_data(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every GET with brand A's own ids (timelines, assist, suggestions, related items, exports): nothing of B, even
    though A's and B's customer are the same person (same email and phone)."""
    build_brand_b(db, make)
    own = build_brand_b(db, make, mark="OWNA")
    ids, number = own["ids"], own["ticket"].number
    agent_a = own["agent"]  # a supervisor of brand A only
    failures = _walk_gets(app, client, agent_a, make.token(agent_a), ids, number, with_an_id=True)
    assert not failures, "\n".join(failures)


def test_an_agent_taken_off_a_brand_sees_none_of_it(app: Any, client: Any, make: Any, db: Any) -> None:
    """Brand B's own supervisor, moved to brand A: every GET (API and pages, B's ids in the path) shows nothing of B.

    Rows kept per agent (notifications, saved views, tokens, drafts…) are read by agent id, so a list that forgets the
    brand rule still shows them to an agent who has left the brand; the stranger of the walks above has no such rows.
    """
    from kefu.auth.service import set_agent_brands

    world = build_brand_b(db, make)
    ids, number, agent = world["ids"], world["ticket"].number, world["agent"]
    # B has rows the walk must find hidden: per-agent ones and the incident register (brand or install-wide).
    assert {"notifications", "security_incidents", "saved_ticket_views"} <= set(ids)
    set_agent_brands(db, agent, [make.brand().id])
    db.commit()
    failures = _walk_gets(app, client, agent, make.token(agent), ids, number, with_an_id=False)
    assert not failures, "an agent who left brand B still reads it:\n" + "\n".join(failures)


def _query(route: Any, ids: dict[str, Any], term: str, number: str) -> dict[str, Any]:
    """The route's own query parameters, ids pointing at brand B's rows and text ones searching for B's data."""
    out: dict[str, Any] = {}
    dependant = getattr(route, "dependant", None)  # plain Starlette routes (static files) declare nothing
    for field in dependant.query_params if dependant is not None else []:
        name = field.alias
        table = BODY_REFS.get(name) or PARAM_TABLES.get(name)
        annotation = str(getattr(field.field_info, "annotation", ""))
        if table and table in ids:
            out[name] = ids[table]
        elif name == "organization_id":
            out[name] = ids["organizations"]
        elif name == "number":
            out[name] = number
        elif "str" in annotation and name not in ("lang", "view", "status", "sort", "order", "cursor", "format"):
            out[name] = term
    return out


def test_lists_searches_and_exports_hide_other_brands(app: Any, client: Any, make: Any, db: Any) -> None:
    """Every GET without a path id (lists, search, CSV/XLSX exports, console pages), its own query parameters set
    to B's ids and to B's text, email and phone (the shared person): no B data."""
    world = build_brand_b(db, make)
    ids, number = world["ids"], world["ticket"].number
    agent_a = make.agent("supervisor", [make.brand()])
    bearer = make.token(agent_a)
    csrf: dict[str, str] = {}
    failures: list[str] = []
    for route in _routes(app):
        if "{" in route.path or "GET" not in route.methods or PUBLIC.search(route.path):
            continue
        for term in (MARK[:-1], SHARED_EMAIL, SHARED_PHONE):
            params = _query(route, ids, term, number)
            try:
                if route.path.startswith("/api/"):
                    client.cookies.clear()
                    csrf = {}
                    r = client.get(route.path, params=params, headers=bearer, follow_redirects=False)
                else:
                    csrf = csrf or _login(client, agent_a)
                    r = client.get(route.path, params=params, headers=csrf, follow_redirects=False)
            except Exception as exc:
                failures.append(f"GET {route.path} {params} -> raised {exc!r}"[:300])
                continue
            if r.status_code >= 500 or _leak(r):
                failures.append(f"GET {route.path} {params} -> {r.status_code} {_show(r)}")
            if not params:
                break
    assert not failures, "\n".join(failures)


def test_websocket_topics_of_another_brand_are_denied(client: Any, make: Any, db: Any) -> None:
    world = build_brand_b(db, make)
    ids = world["ids"]
    agent_a = make.agent("supervisor", [make.brand()])
    token = make.token(agent_a)["Authorization"].split()[1]
    topics = [
        f"brand:{ids['brands']}",
        f"conversation:{ids['conversations']}",
        f"conversation:{ids['conversations']}:public",
        f"ticket:{ids['tickets']}",
        f"customer:{ids['customers']}",
        f"agent:{world['agent'].id}",
        f"team:{ids['teams']}",
        f"inbox:{ids['inboxes']}",
    ]
    with client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "http://testserver"}) as ws:
        while json.loads(ws.receive_text())["op"] != "hello":
            pass
        ws.send_text(json.dumps({"op": "subscribe", "topics": topics}))
        while (msg := json.loads(ws.receive_text()))["op"] != "subscribed":
            pass
    assert msg["topics"] == [] and sorted(msg["denied"]) == sorted(topics)
