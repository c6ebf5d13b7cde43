"""Every API route, for every role and anonymously: no 5xx, 401 without credentials, 403/404 across roles/brands."""

from __future__ import annotations

import random
import re
import string
from typing import Any

from fastapi.routing import APIRoute

from kefu.conversations.commands import CreateConversation

ROLES = ("admin", "supervisor", "agent", "auditor")


def _needs_auth(route: APIRoute) -> bool:
    from kefu.auth.deps import AUTHENTICATES

    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if getattr(dep.call, AUTHENTICATES, False):  # current_principal, or require(...) which inlines it
            return True
        stack.extend(dep.dependencies)
    return False


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, looking inside routers that newer FastAPI keeps as included-router nodes."""
    found: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        elif hasattr(r, "original_router"):
            found += api_routes(list(r.original_router.routes))
    return found


def _world(db: Any, make: Any) -> dict[str, Any]:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.tickets.service import create_ticket

    brand = make.brand(ticket_prefix="".join(random.choices(string.ascii_uppercase, k=6)))
    cust = make.customer(brand, name="王小明", email="ming@example.com")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
    )
    add_message(db, conv, sender_type="customer", body="電話 0912345678")
    t = create_ticket(db, actor=None, brand_id=brand.id, subject="s", description="d", customer_id=cust.id)
    db.commit()
    return {"brand": brand, "customer": cust, "conversation": conv, "ticket": t}


def _fill(path: str, ids: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        if name in ids:
            return str(ids[name])
        return "1" if name.endswith("_id") or name == "id" else "x"

    return re.sub(r"\{([^}]+)\}", sub, path)


def test_every_route_no_5xx_and_auth_required(app: Any, client: Any, make: Any, db: Any) -> None:
    w = _world(db, make)
    ids = {
        "brand_id": w["brand"].id,
        "customer_id": w["customer"].id,
        "conversation_id": w["conversation"].id,
        "ticket_id": w["ticket"].id,
        "number": w["ticket"].number,
    }
    agents = {role: make.agent(role, [w["brand"]]) for role in ROLES}
    headers = {role: make.token(a) for role, a in agents.items()}
    routes = [r for r in api_routes(list(app.routes)) if r.path.startswith("/api/")]
    assert len(routes) > 20
    failures: list[str] = []
    for route in sorted(routes, key=lambda r: ("DELETE" in r.methods, r.path)):
        protected = _needs_auth(route)
        path = _fill(route.path, ids)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            body = {} if method in ("POST", "PUT", "PATCH") else None
            client.cookies.clear()
            r = client.request(method, path, json=body)
            if r.status_code >= 500 or (protected and r.status_code != 401):
                failures.append(f"anonymous {method} {path} -> {r.status_code}")
            for role in ROLES:
                r = client.request(method, path, json=body, headers=headers[role])
                if r.status_code == 401 and protected:  # an earlier route revoked this token (logout, DELETE /tokens)
                    headers[role] = make.token(agents[role])
                    r = client.request(method, path, json=body, headers=headers[role])
                if r.status_code >= 500:
                    failures.append(f"{role} {method} {path} -> {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_privacy_permission_matrix(client: Any, make: Any, db: Any) -> None:
    w = _world(db, make)
    headers = {role: make.token(make.agent(role, [w["brand"]])) for role in ROLES}
    cid, conv = w["customer"].id, w["conversation"].id
    reason = {"reason": "權限矩陣測試"}
    rw = {"admin": 200, "supervisor": 200, "agent": 403, "auditor": 403}  # pii:reveal holders only
    ro = {"admin": 200, "supervisor": 200, "agent": 403, "auditor": 200}  # audit:read holders
    everyone = {"admin": 200, "supervisor": 200, "agent": 200, "auditor": 200}
    writers = {"admin": 200, "supervisor": 200, "agent": 200, "auditor": 403}
    admin_only = {"admin": 200, "supervisor": 403, "agent": 403, "auditor": 403}
    cases: list[tuple[str, str, Any, dict[str, int]]] = [
        ("POST", f"/api/v1/customers/{cid}/reveal", reason, rw),
        ("POST", f"/api/v1/conversations/{conv}/reveal", reason, rw),
        ("POST", f"/api/v1/customers/{cid}/export", reason, rw),
        ("GET", f"/api/v1/customers/{cid}/consents", None, everyone),
        ("PUT", f"/api/v1/customers/{cid}/consents", {"tracking": True}, writers),
        ("GET", "/api/v1/audit/verify", None, ro),
        ("GET", "/api/v1/privacy/requests", None, ro),
        ("GET", "/api/v1/security/incidents", None, ro),
        ("PUT", f"/api/v1/brands/{w['brand'].id}/retention", {"years": 6}, admin_only),
        ("POST", f"/api/v1/customers/{cid}/erase", {**reason, "confirm": True}, {"agent": 403, "auditor": 403, **rw}),
    ]
    for method, url, body, expect in cases:
        for role, code in expect.items():
            r = client.request(method, url, json=body, headers=headers[role])
            assert r.status_code == code, (role, method, url, r.status_code, r.text[:200])


def test_cross_brand_and_cross_customer_access(client: Any, make: Any, db: Any) -> None:
    a, b = _world(db, make), _world(db, make)
    sup_b = make.token(make.agent("supervisor", [b["brand"]]))
    agent_b = make.token(make.agent("agent", [b["brand"]]))
    ca, conv_a = a["customer"].id, a["conversation"].id
    reason = {"reason": "跨品牌測試"}
    for method, url, body in [
        ("POST", f"/api/v1/customers/{ca}/reveal", reason),
        ("POST", f"/api/v1/customers/{ca}/export", reason),
        ("POST", f"/api/v1/customers/{ca}/erase", {**reason, "confirm": True}),
        ("GET", f"/api/v1/customers/{ca}/consents", None),
        ("PUT", f"/api/v1/customers/{ca}/consents", {"tracking": True}),
        ("POST", f"/api/v1/conversations/{conv_a}/reveal", reason),
        ("GET", f"/api/v1/conversations/{conv_a}/messages", None),
        ("GET", f"/api/v1/customers/{ca}/timeline", None),
        ("GET", f"/api/v1/brands/{a['brand'].id}/retention", None),
    ]:
        assert client.request(method, url, json=body, headers=sup_b).status_code == 404, url
    # Filtering another brand's customer id into a list query yields nothing rather than their data.
    r = client.get("/api/v1/conversations", params={"customer_id": ca}, headers=agent_b)
    assert r.status_code == 200 and r.json()["items"] == []
    r = client.get("/api/v1/tickets", params={"customer_id": ca}, headers=agent_b)
    assert r.status_code == 200 and r.json()["items"] == []
