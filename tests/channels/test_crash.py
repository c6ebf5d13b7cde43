"""SIGKILL during a webhook burst: every acknowledged message is there exactly once after a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.channels.conftest import line_body, line_sign, line_text
from tests.drills.conftest import SECRET, Load, Serve, drill_env, message_counts, seed


@pytest.mark.slow
def test_sigkill_during_webhook_burst_loses_nothing(shared_db: str, tmp_path: Path) -> None:
    inbox_id = seed(shared_db)["inbox_id"]  # a LINE inbox, transport only: the bot stays out
    env = drill_env(shared_db, tmp_path, KEFU_CHANNELS_SWEEP_GRACE_SECONDS="1")

    def deliver(http: httpx.Client, worker: int, n: int) -> list[str]:
        ids = [f"W{worker}-{n}-{k}" for k in range(2)]
        body = line_body(*(line_text(i, f"U{worker}", f"訊息 {i}") for i in ids))
        r = http.post(
            f"{server.base}/api/v1/channels/line/{inbox_id}/webhook",
            content=body,
            headers={"X-Line-Signature": line_sign(SECRET, body), "Content-Type": "application/json"},
        )
        return ids if r.status_code == 200 else []

    with Serve(env, tmp_path / "serve1.log") as server:
        load = Load(deliver, 6, timeout=5).start()
        try:
            load.wait(150, 20, "acknowledged webhook events")
        finally:
            server.kill()  # SIGKILL mid-burst: no shutdown hooks, jobs in memory are gone
            load.stop()
    acked = list(load.acked)
    before = sum(message_counts(shared_db, acked).values())
    with Serve(env, tmp_path / "serve2.log", port=server.port):
        deadline = time.monotonic() + 60
        while len(counts := message_counts(shared_db, acked)) < len(set(acked)) and time.monotonic() < deadline:
            time.sleep(0.3)
    missing = set(acked) - set(counts)
    assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:5]}"
    assert all(n == 1 for n in counts.values())
    print(json.dumps({"acked": len(acked), "processed_before_kill": before, "recovered": len(acked) - before}))
