"""The test harness stays worker-safe under pytest-xdist (per-worker Redis DB, databases made once per backend)."""

from __future__ import annotations

from typing import Any

from tests.conftest import worker_redis_url


def test_each_xdist_worker_gets_its_own_redis_db() -> None:
    """A plain run keeps the configured DB; gw<n> uses base+1+n, wrapping at Redis's 16 DBs."""
    assert worker_redis_url("redis://127.0.0.1:6379/0", "master") == "redis://127.0.0.1:6379/0"
    assert worker_redis_url("redis://127.0.0.1:6379/0", "gw0") == "redis://127.0.0.1:6379/1"
    assert worker_redis_url("redis://127.0.0.1:6379/3", "gw1") == "redis://127.0.0.1:6379/5"
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/0"
    assert worker_redis_url("redis://127.0.0.1:6379", "gw0") == "redis://127.0.0.1:6379/1"


def test_the_database_of_each_backend_is_made_once(db_url: str, engine: Any, _backends: Any) -> None:
    """db_url and engine come from the per-run cache, so switching backends never rebuilds a schema."""
    assert db_url in _backends.urls.values()
    assert _backends.engine(db_url) is engine


def test_worker_redis_url_keeps_credentials_and_options() -> None:
    """Only the DB number changes."""
    assert worker_redis_url("redis://:pw@10.0.0.2:6380/2?socket_timeout=3", "gw2") == (
        "redis://:pw@10.0.0.2:6380/5?socket_timeout=3"
    )
