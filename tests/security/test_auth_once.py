"""`require` looks the caller up itself (one dependency level less): a route that also declares the principal gets
the same one, from one lookup per request."""

# No `from __future__ import annotations`: FastAPI reads the local endpoints' annotations at run time.
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient


def test_require_and_maybe_principal_share_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    from kefu.auth import deps
    from kefu.auth.permissions import Principal
    from kefu.core.errors import Forbidden, Unauthorized

    calls: list[str] = []
    caller = Principal(
        agent_id=7,
        email="a@example.com",
        name="a",
        role="agent",
        permissions=frozenset({"tickets:read"}),
        brand_ids=frozenset({1}),
        via="token",
        credential_id=3,
    )

    def resolve(db: Any, raw: str, ip: str, cache_seconds: float = 0) -> Principal | None:
        calls.append(raw)
        return caller if raw == "good" else None

    monkeypatch.setattr(deps.tokencache, "lookup", lambda digest, ip: None)  # every request a cache miss
    monkeypatch.setattr(deps.service, "resolve_token", resolve)

    def no_db() -> Iterator[None]:
        yield None

    app = FastAPI()
    app.dependency_overrides[deps.db_session] = no_db

    @app.get("/both")
    async def both(
        principal: Annotated[Principal, Depends(deps.require("tickets:read"))], maybe: deps.MaybePrincipal
    ) -> dict[str, Any]:
        return {"same": principal is maybe, "agent": principal.agent_id}

    @app.get("/write")
    async def write(principal: Annotated[Principal, Depends(deps.require("tickets:write"))]) -> dict[str, Any]:
        return {"agent": principal.agent_id}

    with TestClient(app) as client:
        r = client.get("/both", headers={"Authorization": "Bearer good"})
        assert r.status_code == 200 and r.json() == {"same": True, "agent": 7}
        assert calls == ["good"]  # one lookup for both dependencies
        with pytest.raises(Unauthorized):  # kefu's app answers these 401 / 403 (its exception handlers)
            client.get("/both", headers={"Authorization": "Bearer bad"})
        with pytest.raises(Unauthorized):
            client.get("/both")
        with pytest.raises(Forbidden):
            client.get("/write", headers={"Authorization": "Bearer good"})
        assert calls == ["good", "bad", "good"]
