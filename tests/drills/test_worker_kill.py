"""Drill: SIGKILL a `kefu worker` while it runs a job; another worker re-claims it after the stream idle timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.drills.conftest import RedisServer, drill_env, start, tail, wait_for

IDLE_MS = 3000
JOB_SECONDS = 1.0


def _runs(url: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(url) as conn:
        return [(j, p, pid) for j, p, pid in conn.execute("SELECT job, phase, pid FROM drill_runs ORDER BY id")]


def _readers(redis_url: str) -> int:
    """Connections currently blocked in XREADGROUP (a consumer shows up in XINFO only once it got a message)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(1 for c in client.client_list() if c.get("cmd") == "xreadgroup")
    finally:
        client.close()


@pytest.mark.slow
def test_killed_worker_job_is_rerun_once_by_another_worker(
    fresh_db: str, own_redis: RedisServer, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from kefu.core.jobs import RedisJobQueue

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE drill_runs (id serial PRIMARY KEY, job text, phase text, pid int)")
    env = drill_env(fresh_db, tmp_path, own_redis.url, KEFU_JOBS_IDLE_TIMEOUT_MS=str(IDLE_MS))
    prefix = env["KEFU_REDIS_PREFIX"]
    cmd = [sys.executable, "-m", "tests.drills._worker", "--concurrency", "1"]
    victim = start(procs, cmd, env, tmp_path / "worker-a.log")
    survivor = start(procs, cmd, env, tmp_path / "worker-b.log")
    wait_for(lambda: _readers(own_redis.url) >= 2, 30, "both workers to listen")

    queue = RedisJobQueue(own_redis.url, prefix)
    slow = [f"slow-{i}" for i in range(6)]
    for name in slow:
        queue.enqueue("drills.slow", {"name": name, "seconds": JOB_SECONDS})

    def victim_busy() -> str | None:
        runs = _runs(fresh_db)
        done = {j for j, p, _ in runs if p == "done"}
        return next((j for j, p, pid in runs if p == "start" and pid == victim.pid and j not in done), None)

    killed_job = wait_for(victim_busy, 20, "the victim worker to start a job", interval=0.05)
    time.sleep(0.2)
    victim.kill()  # SIGKILL mid-job: no ack, no shutdown hook
    victim.wait(timeout=10)
    killed_at = time.monotonic()

    # taskiq re-claims idle messages only after a read returns new ones; production always has the scheduler's
    # periodic jobs flowing, here a tick job every 0.5 s stands in for them.
    ticks: list[str] = []

    def all_done() -> bool:
        ticks.append(f"tick-{len(ticks)}")
        queue.enqueue("drills.slow", {"name": ticks[-1], "seconds": 0.01})
        done = {j for j, p, _ in _runs(fresh_db) if p == "done"}
        return set(slow) <= done

    try:
        wait_for(all_done, IDLE_MS / 1000 + 20, "every job to finish", interval=0.5)
        wait_for(lambda: set(ticks) <= {j for j, p, _ in _runs(fresh_db) if p == "done"}, 15, "tick jobs")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_runs(fresh_db)}\n{tail(tmp_path / 'worker-b.log')}") from None
    recovered_after = time.monotonic() - killed_at
    queue.stop()

    runs = _runs(fresh_db)
    done = Counter(j for j, p, _ in runs if p == "done")
    assert {j: n for j, n in done.items() if n != 1} == {}, f"jobs finished more than once: {runs}"
    assert set(done) == set(slow) | set(ticks)
    starts = [(p, pid) for j, p, pid in runs if j == killed_job]
    assert starts[0] == ("start", victim.pid) and ("done", survivor.pid) in starts
    assert not any(pid == victim.pid for j, p, pid in runs if p == "done" and j == killed_job)
    assert recovered_after < IDLE_MS / 1000 + 15
    print(json.dumps({"killed_job": killed_job, "recovered_after_s": round(recovered_after, 1), "runs": len(runs)}))
