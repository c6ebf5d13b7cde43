"""Bearer token → principal cache (kefu.auth.tokencache): no SQL on a hit, and no stale access after a change."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, kefu_cmd, spawn, stop, wait_http


def _token_id(db: Any, headers: dict[str, str]) -> int:
    from sqlalchemy import select

    from kefu.auth.models import ApiToken
    from kefu.core.security import token_digest

    raw = headers["Authorization"].split(" ", 1)[1]
    return int(db.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_digest(raw))))


def test_a_cached_token_needs_no_sql(client: Any, make: Any, count_queries: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(client.app.state.settings, "token_cache_seconds", 3600.0)  # however slow the machine
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    assert client.get(f"/api/v1/brands/{brand.id}", headers=h).status_code == 200
    with count_queries() as q:
        assert client.get(f"/api/v1/brands/{brand.id}", headers=h).status_code == 200
    assert not [s for s in q.statements if "api_tokens" in s or "agent_brands" in s], str(q)


def test_a_revoked_token_is_refused_at_once(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    admin = make.agent("admin", [brand])
    h, other = make.token(admin), make.token(admin)
    assert client.get("/api/v1/tokens", headers=other).status_code == 200  # cached now
    r = client.delete(f"/api/v1/tokens/{_token_id(db, other)}", headers=h)
    assert r.status_code == 204, r.text
    assert client.get("/api/v1/tokens", headers=other).status_code == 401
    assert client.get("/api/v1/tokens", headers=h).status_code == 200


def test_deactivation_and_brand_changes_apply_to_the_next_request(client: Any, make: Any) -> None:
    a, b = make.brand(), make.brand()
    admin_h = make.token(make.agent("admin", [a]))
    agent = make.agent("agent", [a])
    h = make.token(agent)
    assert client.get(f"/api/v1/brands/{b.id}", headers=h).status_code == 404  # cached without brand b
    r = client.patch(f"/api/v1/agents/{agent.id}", json={"brand_ids": [a.id, b.id]}, headers=admin_h)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/brands/{b.id}", headers=h).status_code == 200
    r = client.patch(f"/api/v1/agents/{agent.id}", json={"is_active": False}, headers=admin_h)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/brands/{a.id}", headers=h).status_code == 401


def test_entries_expire_with_the_token_and_after_their_time() -> None:
    from kefu.auth import tokencache
    from kefu.auth.permissions import Principal
    from kefu.core.db import utcnow

    p = Principal(
        agent_id=1, email="a@example.com", name="a", role="agent", permissions=frozenset(), brand_ids=None,
        via="token", credential_id=7,
    )  # fmt: skip
    tokencache.store("expired", p, utcnow() - timedelta(seconds=1), 60)
    assert tokencache.lookup("expired", "1.2.3.4") is None
    tokencache.store("live", p, None, 60)
    hit = tokencache.lookup("live", "1.2.3.4")
    assert hit is not None and hit.ip == "1.2.3.4" and hit.credential_id == 7
    tokencache.forget(("auth:token:7",))
    assert tokencache.lookup("live", None) is None
    tokencache.store("short", p, None, 0.01)
    time.sleep(0.02)
    assert tokencache.lookup("short", None) is None
    tokencache.store("off", p, None, 0)  # Settings.token_cache_seconds = 0: no caching
    assert tokencache.lookup("off", None) is None


# ---------------------------------------------------------------- two API processes sharing Redis


def test_changes_in_one_process_apply_in_another(shared_db: str, redis_url: str, tmp_path: Path) -> None:
    """Process B revokes a token and changes a brand; process A, which cached both, sees it on the next request."""
    import os

    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.sla.policy import SlaPolicy
    from kefu.sla.service import create_policy

    database = Database(shared_db)
    with database.session() as s:
        brand = create_brand(s, slug=f"b-{uuid.uuid4().hex[:6]}", name="B")
        admin = create_agent(
            s, email=f"a-{uuid.uuid4().hex[:6]}@example.com", name="A", password="long password 1", role="admin"
        )
        tok, raw = create_token(s, admin, name="t", scopes=None, expires_at=None, actor=None)
        _, raw_b = create_token(s, admin, name="b", scopes=None, expires_at=None, actor=None)
        policy = {
            "name": "platinum",
            "conditions": {"tier": "platinum"},
            "targets": [{"kind": "first_response", "amount": 10, "unit": "minutes"}],
            "calendar": "24x7",
        }
        create_policy(s, brand_id=brand.id, policy=SlaPolicy.model_validate(policy), actor=None)
        brand_id, token_id = brand.id, tok.id
    database.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_ENV": "test",
            "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
            "KEFU_DATABASE_URL": shared_db,
            "KEFU_REDIS_URL": redis_url,
            "KEFU_REDIS_PREFIX": f"kefu-test-{uuid.uuid4().hex[:8]}",
            "KEFU_LOG_LEVEL": "WARNING",
            "KEFU_TOKEN_CACHE_SECONDS": "60",  # only the bus can explain a refusal within the test's few seconds
        }
    )
    port_a, port_b = free_port(), free_port()
    procs = [
        spawn(kefu_cmd("serve", "--port", str(port_a)), env, tmp_path / "a.log"),
        spawn(kefu_cmd("serve", "--port", str(port_b)), env, tmp_path / "b.log"),
    ]
    a, b = f"http://127.0.0.1:{port_a}/api/v1", f"http://127.0.0.1:{port_b}/api/v1"
    h, hb = {"Authorization": f"Bearer {raw}"}, {"Authorization": f"Bearer {raw_b}"}

    def policy_of(base: str) -> Any:
        r = httpx.post(f"{base}/tickets", json={"brand_id": brand_id, "subject": "訂單沒到"}, headers=h, timeout=30)
        assert r.status_code == 201, r.text
        sla = httpx.get(f"{base}/tickets/{r.json()['id']}/sla", headers=h, timeout=30)
        assert sla.status_code == 200, sla.text
        return sla.json()["policy_name"]

    try:
        for port in (port_a, port_b):
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        assert policy_of(a) is None  # A caches the brand (default tier) and the token
        r = httpx.patch(f"{b}/brands/{brand_id}", json={"settings": {"sla_tier": "platinum"}}, headers=hb, timeout=30)
        assert r.status_code == 200, r.text
        assert policy_of(a) == "platinum"  # A's next create sees B's brand change
        r = httpx.delete(f"{b}/tokens/{token_id}", headers=hb, timeout=30)
        assert r.status_code == 204, r.text
        deadline, status = time.monotonic() + 10, 200
        while time.monotonic() < deadline:
            status = httpx.get(f"{a}/tokens", headers=h, timeout=30).status_code
            if status == 401:
                break
            time.sleep(0.05)
        assert status == 401  # the revocation reached A over Redis, long before its 60 s time-to-live
    finally:
        for p in procs:
            stop(p)


def test_a_revocation_announced_while_the_token_is_read_is_not_undone(db: Any, make: Any) -> None:
    """The revocation's forget() runs between the token's SELECT and the store: the stale principal is not kept."""
    from sqlalchemy import event

    from kefu.auth import service, tokencache
    from kefu.core.security import token_digest

    h = make.token(make.agent("agent", [make.brand()]))
    raw, token_id = h["Authorization"].split(" ", 1)[1], _token_id(db, h)
    engine = db.connection().engine

    def revoked_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "api_tokens" in statement:
            tokencache.forget((f"auth:token:{token_id}",))  # another request's revocation has just committed

    tokencache.clear()
    event.listen(engine, "after_cursor_execute", revoked_meanwhile)
    try:
        assert service.resolve_token(db, raw, None, cache_seconds=3600) is not None  # valid when it was read
    finally:
        event.remove(engine, "after_cursor_execute", revoked_meanwhile)
    assert tokencache.lookup(token_digest(raw), None) is None
    assert service.resolve_token(db, raw, None, cache_seconds=3600) is not None
    assert tokencache.lookup(token_digest(raw), None) is not None  # an undisturbed read is cached as before


def test_nothing_is_cached_while_the_bus_is_interrupted() -> None:
    from kefu.auth import tokencache
    from kefu.auth.permissions import Principal
    from kefu.core.events import BUS_INTERRUPTED, BUS_RESUMED, Event

    p = Principal(
        agent_id=1, email="a@example.com", name="a", role="agent", permissions=frozenset(), brand_ids=None,
        via="token", credential_id=7,
    )  # fmt: skip
    try:
        tokencache.store("before", p, None, 60)
        tokencache.on_event(Event(type=BUS_INTERRUPTED, data={}))
        assert tokencache.lookup("before", None) is None  # revocations elsewhere can no longer reach us
        tokencache.store("during", p, None, 60)
        assert tokencache.lookup("during", None) is None
        tokencache.on_event(Event(type=BUS_RESUMED, data={}))
        tokencache.store("after", p, None, 60)
        assert tokencache.lookup("after", None) is not None
    finally:
        tokencache.clear()


def test_a_stopped_app_leaves_the_cache_unpaused(app: Any) -> None:
    from fastapi.testclient import TestClient

    from kefu.auth import tokencache
    from kefu.auth.permissions import Principal
    from kefu.core.events import BUS_INTERRUPTED, Event

    p = Principal(
        agent_id=1, email="a@example.com", name="a", role="agent", permissions=frozenset(), brand_ids=None,
        via="token", credential_id=7,
    )  # fmt: skip
    with TestClient(app):
        tokencache.on_event(Event(type=BUS_INTERRUPTED, data={}))  # the bus went down, then the app stopped
    tokencache.store("next", p, None, 60)
    assert tokencache.lookup("next", None) is not None  # the next app in this process caches again
    tokencache.clear()
