"""Scale-out paths with real processes: Redis pub/sub bus, WebSocket fan-out across API processes, Redis jobs."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from kefu.conversations.commands import CreateConversation
from tests.conftest import (
    free_port,
    kefu_cmd,
    spawn,
    stop,
    wait_http,
)


def _seed(url: str) -> dict[str, Any]:
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.conversations.service import create_conversation
    from kefu.core.db import Database
    from kefu.customers.service import create_customer

    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"b-{uuid.uuid4().hex[:6]}", name="B")
        agent = create_agent(
            s,
            email=f"a-{uuid.uuid4().hex[:6]}@example.com",
            name="A",
            password="long password 1",
            role="agent",
            brand_ids=[brand.id],
        )
        _, raw = create_token(s, agent, name="t", scopes=None, expires_at=None, actor=None)
        cust = create_customer(s, brand_id=brand.id, actor=None, name="C")
        conv = create_conversation(
            s, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
        )
        out = {"token": raw, "conversation_id": conv.id, "brand_id": brand.id}
    database.dispose()
    return out


def _env(db_url: str, redis_url: str | None, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_ENV": "test",
            "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
            "KEFU_DATABASE_URL": db_url,
            "KEFU_REDIS_PREFIX": prefix,
            "KEFU_LOG_LEVEL": "WARNING",
        }
    )
    if redis_url:
        env["KEFU_REDIS_URL"] = redis_url
    return env


def test_redis_bus_delivers_between_bus_instances(redis_url: str) -> None:
    from kefu.core.events import Event, RedisBus

    prefix = f"kefu-test-{uuid.uuid4().hex[:8]}"
    a, b = RedisBus(redis_url, prefix), RedisBus(redis_url, prefix)
    got: list[Event] = []
    b.add_listener(got.append)
    a.start()
    b.start()
    try:
        a.publish(Event(type="t.x", data={"n": 1}, topics=("brand:1",)))
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [(e.type, e.data) for e in got] == [("t.x", {"n": 1})]
    finally:
        a.stop()
        b.stop()


def test_redis_bus_degrades_to_local_when_redis_is_down() -> None:
    from kefu.core.events import Event, RedisBus

    bus = RedisBus("redis://127.0.0.1:1/0", "kefu-down")
    got: list[Event] = []
    bus.add_listener(got.append)
    bus.publish(Event(type="t.y", data={}, topics=("brand:1",)))
    assert [e.type for e in got] == ["t.y"]


def test_event_in_one_api_process_reaches_websocket_client_of_another(
    shared_db: str, redis_url: str, tmp_path: Path
) -> None:
    from websockets.sync.client import connect

    seed = _seed(shared_db)
    env = _env(shared_db, redis_url, f"kefu-test-{uuid.uuid4().hex[:8]}")
    port_a, port_b = free_port(), free_port()
    procs = [
        spawn(kefu_cmd("serve", "--port", str(port_a)), env, tmp_path / "a.log"),
        spawn(kefu_cmd("serve", "--port", str(port_b)), env, tmp_path / "b.log"),
    ]
    try:
        for port in (port_a, port_b):
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        cid = seed["conversation_id"]
        with connect(f"ws://127.0.0.1:{port_a}/api/v1/ws?token={seed['token']}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["op"] == "hello"
            ws.send(json.dumps({"op": "subscribe", "topics": [f"conversation:{cid}"]}))
            assert json.loads(ws.recv(timeout=10))["topics"] == [f"conversation:{cid}"]
            r = httpx.post(
                f"http://127.0.0.1:{port_b}/api/v1/conversations/{cid}/messages",
                json={"body": "來自另一個程序的訊息"},
                headers={"Authorization": f"Bearer {seed['token']}"},
                timeout=10,
            )
            assert r.status_code == 201, r.text
            msg = json.loads(ws.recv(timeout=10))
            assert msg["op"] == "event"
            assert msg["event"]["type"] == "message.created"
            assert msg["event"]["data"]["body"] == "來自另一個程序的訊息"
            assert msg["event"]["data"]["id"] == r.json()["id"]
    finally:
        for p in procs:
            stop(p)


def test_redis_job_runs_in_worker_process(shared_db: str, redis_url: str, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from kefu.auth.models import LoginAttempt
    from kefu.core.db import Database, utcnow
    from kefu.core.jobs import enqueue

    prefix = f"kefu-test-{uuid.uuid4().hex[:8]}"
    database = Database(shared_db)
    with database.session() as s:
        s.add(LoginAttempt(username="old@example.com", ip="1.2.3.4", success=False, at=utcnow() - timedelta(days=90)))
        s.add(LoginAttempt(username="new@example.com", ip="1.2.3.4", success=False, at=utcnow()))
    # Enqueue before any worker exists: the job row waits in the database until one claims it.
    with database.session() as s:
        enqueue(s, "housekeeping.prune", {"days": 30})
    worker = spawn(kefu_cmd("worker", "--concurrency", "2"), _env(shared_db, redis_url, prefix), tmp_path / "w.log")
    try:
        deadline = time.monotonic() + 30
        left = None
        while time.monotonic() < deadline:
            with database.session() as s:
                left = s.scalar(select(func.count(LoginAttempt.id)))
            if left == 1:
                break
            time.sleep(0.3)
        assert left == 1, (tmp_path / "w.log").read_text()
    finally:
        stop(worker)
        database.dispose()
        import redis

        r = redis.Redis.from_url(redis_url)
        r.delete(f"{prefix}:jobs")
