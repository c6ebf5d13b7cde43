"""Database unreachable: every route answers 503 problem+json with Retry-After (providers retry), never a bare 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import free_port


@pytest.fixture
def dead_db_client(monkeypatch: pytest.MonkeyPatch, bus: Any, jobs: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.web.app import create_app

    monkeypatch.setenv("KEFU_CHANNELS_BACKGROUND", "0")
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/gone"  # nothing listens: connection refused
    settings = Settings(env="test", database_url=url, redis_url=None, scheduler=False)
    database = Database(url)
    app = create_app(settings, database=database, bus=bus)
    try:
        with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
            yield c
    finally:
        database.dispose()  # the autouse fixture reinstalls the runtime create_app replaced


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/v1/channels/line/1/webhook", {"X-Line-Signature": "x", "Content-Type": "application/json"}),
        ("POST", "/api/v1/channels/messenger/1/webhook", {"X-Hub-Signature-256": "sha256=00"}),
        ("GET", "/api/v1/tickets", {"Authorization": "Bearer kefu_not_checked_because_db_is_down"}),
        ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}),
    ],
)
def test_routes_answer_503_problem_with_retry_after(
    dead_db_client: Any, method: str, path: str, headers: dict[str, str]
) -> None:
    body = b'{"events": [], "email": "a@example.com", "password": "long password 1"}'
    r = dead_db_client.request(method, path, content=body, headers=headers)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["status"] == 503


def test_healthz_reports_the_outage(dead_db_client: Any) -> None:
    assert dead_db_client.get("/healthz").status_code == 503
