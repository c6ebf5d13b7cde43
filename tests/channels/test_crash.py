"""SIGKILL during a webhook burst: every acknowledged message is there exactly once after a restart."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.channels.conftest import line_body, line_sign, line_text
from tests.conftest import free_port, kefu_cmd, spawn, wait_http

SECRET = "crash-secret"


def _seed(url: str) -> int:
    from kefu.brands.service import create_brand, create_inbox
    from kefu.core.db import Database

    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"crash-{uuid.uuid4().hex[:6]}", name="Crash")
        config = {"channel_secret": SECRET, "initial_status": "open"}  # transport only: the bot stays out
        inbox = create_inbox(s, brand, kind="line", name="LINE", config=config, actor=None)
        inbox_id = inbox.id
    database.dispose()
    return inbox_id


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_ENV": "test",
            "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
            "KEFU_DATABASE_URL": url,
            "KEFU_DATA_DIR": str(tmp_path / "data"),
            "KEFU_LOG_LEVEL": "WARNING",
            "KEFU_CHANNELS_SWEEP_SECONDS": "0.5",
            "KEFU_CHANNELS_SWEEP_GRACE_SECONDS": "1",
        }
    )
    return env


@pytest.mark.slow
def test_sigkill_during_webhook_burst_loses_nothing(shared_db: str, tmp_path: Path) -> None:
    from kefu.conversations.models import Message
    from kefu.core.db import Database

    inbox_id = _seed(shared_db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(shared_db, tmp_path)
    proc = spawn(kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve1.log")
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        wait_http(f"{base}/healthz")

        def burst(worker: int) -> None:
            with httpx.Client(timeout=5) as http:
                n = 0
                while not stop.is_set():
                    n += 1
                    ids = [f"W{worker}-{n}-{k}" for k in range(2)]
                    body = line_body(*(line_text(i, f"U{worker}", f"訊息 {i}") for i in ids))
                    try:
                        r = http.post(
                            f"{base}/api/v1/channels/line/{inbox_id}/webhook",
                            content=body,
                            headers={"X-Line-Signature": line_sign(SECRET, body), "Content-Type": "application/json"},
                        )
                    except httpx.HTTPError:
                        return  # server gone: this delivery was never acknowledged
                    if r.status_code == 200:
                        with lock:
                            acked.extend(ids)

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # SIGKILL mid-burst: no shutdown hooks, jobs in memory are gone
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acked) >= 150

    database = Database(shared_db)
    try:
        with database.session() as s:
            before = s.scalar(select(func.count(Message.id)).where(Message.provider_message_id.in_(acked)))
        proc2 = spawn(kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve2.log")
        try:
            wait_http(f"{base}/healthz")
            deadline = time.monotonic() + 60
            while True:
                with database.session() as s:
                    rows = s.execute(
                        select(Message.provider_message_id, func.count(Message.id))
                        .where(Message.provider_message_id.in_(acked))
                        .group_by(Message.provider_message_id)
                    ).all()
                if len(rows) == len(set(acked)) or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        finally:
            proc2.kill()
            proc2.wait()
        counts: dict[str, int] = {pid: n for pid, n in rows}
        missing = set(acked) - set(counts)
        assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:5]}"
        assert all(n == 1 for n in counts.values())
        print(
            json.dumps({"acked": len(acked), "processed_before_kill": before, "recovered": len(acked) - (before or 0)})
        )
    finally:
        database.dispose()
