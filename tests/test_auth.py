"""Authentication, sessions, CSRF, tokens, rate limits and permissions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def _login(client: Any, email: str, password: str = "correct horse 1") -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_password_is_argon2_hashed(make: Any, db: Any) -> None:
    from kefu.auth.models import Agent

    agent = make.agent()
    row = db.scalar(select(Agent).where(Agent.id == agent.id))
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash


def test_login_sets_httponly_cookie_and_me(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("supervisor", [brand])
    r = _login(client, agent.email)
    assert r.status_code == 200, r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=lax" in r.headers["set-cookie"].lower()
    csrf = r.json()["csrf_token"]
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == agent.email and "csrf_token" not in body and csrf not in me.text  # CSRF stays out of /me
    assert "pii:reveal" in body["permissions"] and body["brand_ids"] == [brand.id]


def test_wrong_password_is_problem_json(client: Any, make: Any) -> None:
    agent = make.agent()
    r = _login(client, agent.email, "nope nope nope")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Unauthorized" and r.json()["status"] == 401
    assert _login(client, "nobody@example.com", "whatever123").status_code == 401


def test_cookie_session_requires_csrf_for_writes(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    csrf = _login(client, agent.email).json()["csrf_token"]
    body = {"brand_id": brand.id, "name": "客戶"}
    r = client.post("/api/v1/customers", json=body)
    assert r.status_code == 403 and r.json()["detail"] == "Missing or invalid CSRF token."
    r = client.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = client.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_login_rate_limit_per_account(client: Any, make: Any) -> None:
    agent = make.agent()
    for _ in range(5):
        assert _login(client, agent.email, "bad password!").status_code == 401
    r = _login(client, agent.email)  # even the right password is refused while locked
    assert r.status_code == 429
    assert r.json()["retry_after"] > 0
    assert r.headers["Retry-After"] == str(r.json()["retry_after"])


def test_logout_revokes_session(client: Any, make: Any) -> None:
    agent = make.agent()
    csrf = _login(client, agent.email).json()["csrf_token"]
    cookie = client.cookies.get("kefu_session")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("kefu_session", cookie)
    assert client.get("/api/v1/me").status_code == 401


def test_deactivation_revokes_sessions_and_tokens(client: Any, make: Any) -> None:
    admin = make.agent("admin")
    target = make.agent()
    ha = make.token(admin)
    ht = make.token(target)
    _login(client, target.email)
    assert client.get("/api/v1/me").status_code == 200
    assert client.patch(f"/api/v1/agents/{target.id}", json={"is_active": False}, headers=ha).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=ht).status_code == 401


def test_tokens_create_list_revoke_and_scopes(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    csrf = _login(client, agent.email).json()["csrf_token"]
    body = {"name": "ci", "scopes": ["tickets:read"], "current_password": "correct horse 1"}
    r = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    raw, tid = r.json()["token"], r.json()["id"]
    assert raw.startswith("kefu_pat_")
    listed = client.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [tid] and "token" not in listed[0]
    client.cookies.clear()
    h = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/tickets", headers=h).status_code == 200
    # The token's scopes narrow the role: no customer access, no writes.
    assert client.get("/api/v1/customers", headers=h).status_code == 403
    assert client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "x"}, headers=h).status_code == 403
    assert client.post("/api/v1/tokens", json={"name": "again"}, headers=h).status_code == 403
    assert client.delete(f"/api/v1/tokens/{tid}", headers=h).status_code == 204
    assert client.get("/api/v1/tickets", headers=h).status_code == 401


def test_bad_authorization_header(client: Any) -> None:
    assert client.get("/api/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer kefu_pat_unknown"}).status_code == 401
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_role_permission_matrix(client: Any, make: Any) -> None:
    brand = make.brand()
    roles = {r: make.token(make.agent(r, [brand])) for r in ("admin", "supervisor", "agent", "auditor")}
    new_agent = {"email": "n@example.com", "name": "N", "password": "long enough pw", "role": "agent"}
    expect_create_agent = {"admin": 201, "supervisor": 403, "agent": 403, "auditor": 403}
    for role, h in roles.items():
        body = dict(new_agent, email=f"n-{role}@example.com")
        assert client.post("/api/v1/agents", json=body, headers=h).status_code == expect_create_agent[role], role
    expect_audit = {"admin": 200, "supervisor": 200, "agent": 403, "auditor": 200}
    for role, h in roles.items():
        assert client.get("/api/v1/audit", headers=h).status_code == expect_audit[role], role
    expect_ticket_write = {"admin": 201, "supervisor": 201, "agent": 201, "auditor": 403}
    for role, h in roles.items():
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": f"by {role}"}, headers=h)
        assert r.status_code == expect_ticket_write[role], role
    for role, h in roles.items():
        assert client.get("/api/v1/tickets", headers=h).status_code == 200, role


def test_agent_can_edit_only_own_safe_fields(client: Any, make: Any) -> None:
    brand = make.brand()
    a = make.agent("agent", [brand])
    b = make.agent("agent", [brand])
    stranger = make.agent("agent", [make.brand()])
    h = make.token(a)
    assert client.patch(f"/api/v1/agents/{a.id}", json={"availability": "online"}, headers=h).status_code == 200
    assert client.patch(f"/api/v1/agents/{a.id}", json={"role": "admin"}, headers=h).status_code == 403
    assert client.patch(f"/api/v1/agents/{b.id}", json={"name": "x"}, headers=h).status_code == 403
    assert client.patch(f"/api/v1/agents/{stranger.id}", json={"name": "x"}, headers=h).status_code == 404


def test_short_password_rejected(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    r = client.post("/api/v1/agents", json={"email": "s@example.com", "name": "S", "password": "short"}, headers=h)
    assert r.status_code == 422 and "at least" in r.json()["detail"]


def test_audit_records_login_and_changes(client: Any, make: Any) -> None:
    admin = make.agent("admin")
    h = make.token(admin)
    _login(client, admin.email)
    client.cookies.clear()
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=h).json()["items"]]
    assert "auth.login" in actions and "agent.create" in actions
