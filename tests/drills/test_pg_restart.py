"""Drill: PostgreSQL crashes and restarts during a LINE webhook burst; every acknowledged event is stored once."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.channels.conftest import line_body, line_sign, line_text
from tests.conftest import free_port, kefu_cmd, wait_http
from tests.drills.conftest import (
    SECRET,
    PgServer,
    RedisServer,
    drill_env,
    event_counts,
    message_counts,
    seed,
    start,
    tail,
    wait_for,
)

CLIENTS = 8


class LineClient(threading.Thread):
    """Posts signed batches and, like LINE, redelivers the same batch on 5xx or connection errors until it gets 200."""

    def __init__(self, n: int, url: str, stop: threading.Event, acked: list[str], lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.n, self.url, self.stop, self.acked, self.lock = n, url, stop, acked, lock
        self.retries = 0
        self.unexpected: list[int] = []

    def run(self) -> None:
        """Send batches until told to stop; a batch in flight is always redelivered to the end."""
        with httpx.Client(timeout=10) as http:
            batch = 0
            while not self.stop.is_set():
                batch += 1
                ids = [f"C{self.n}-{batch}-{k}" for k in range(2)]
                body = line_body(*(line_text(i, f"U{self.n}", f"第 {i} 則") for i in ids))
                headers = {"X-Line-Signature": line_sign(SECRET, body), "Content-Type": "application/json"}
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        r = http.post(self.url, content=body, headers=headers)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code == 200:
                        with self.lock:
                            self.acked.extend(ids)
                        break
                    if r is not None and r.status_code < 500:
                        self.unexpected.append(r.status_code)
                        break
                    self.retries += 1
                    time.sleep(0.2)


@pytest.mark.slow
def test_postgres_restart_during_webhook_burst_loses_and_duplicates_nothing(
    own_pg: PgServer, own_redis: RedisServer, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from kefu.core.migrate import upgrade

    with psycopg.connect(own_pg.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE kefu")
    url = own_pg.admin_url.rsplit("/", 1)[0] + "/kefu"
    upgrade(url)
    inbox_id = seed(url)["inbox_id"]
    env = drill_env(url, tmp_path, own_redis.url)
    port = free_port()
    start(procs, kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve.log")
    start(procs, kefu_cmd("worker", "--concurrency", "4"), env, tmp_path / "worker.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)

    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    clients = [
        LineClient(n, f"http://127.0.0.1:{port}/api/v1/channels/line/{inbox_id}/webhook", stop, acked, lock)
        for n in range(CLIENTS)
    ]
    for c in clients:
        c.start()
    try:
        wait_for(lambda: len(acked) >= 150, 30, "the burst to get going", interval=0.05)
        own_pg.stop("immediate")  # a crash: open transactions die, recovery replays WAL on start
        down_at = time.monotonic()
        acked_before = len(acked)
        time.sleep(2)
        own_pg.start()
        outage = time.monotonic() - down_at
        wait_for(lambda: len(acked) >= acked_before + 150, 45, "webhooks to be acknowledged again", interval=0.1)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=70)
    assert not any(c.is_alive() for c in clients)
    assert [s for c in clients for s in c.unexpected] == []
    retries = sum(c.retries for c in clients)
    assert retries > 0, "the outage was never felt by a client"

    ids = list(acked)
    assert len(ids) == len(set(ids))
    try:
        wait_for(lambda: len(message_counts(url, ids)) == len(ids), 60, "every acknowledged event to become a message")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{tail(tmp_path / 'serve.log')}\n{tail(tmp_path / 'worker.log')}") from None
    events, messages = event_counts(url, ids), message_counts(url, ids)
    assert set(events) == set(ids) and set(messages) == set(ids)
    assert {k: n for k, n in events.items() if n != 1} == {}
    assert {k: n for k, n in messages.items() if n != 1} == {}
    print(json.dumps({"acked": len(ids), "client_retries": retries, "outage_s": round(outage, 1)}))
