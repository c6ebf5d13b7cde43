"""Drill: SIGKILL a `kefu worker` while it runs a job; another worker takes the job over once its lease expires."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.drills.conftest import drill_env, start, tail, wait_for

LEASE = 3.0
JOB_SECONDS = 1.0


def _runs(url: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(url) as conn:
        return [(j, p, pid) for j, p, pid in conn.execute("SELECT job, phase, pid FROM drill_runs ORDER BY id")]


@pytest.mark.slow
def test_killed_worker_job_is_rerun_once_by_another_worker(
    fresh_db: str, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from kefu.core.db import Database
    from kefu.core.jobs import enqueue

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE drill_runs (id serial PRIMARY KEY, job text, phase text, pid int)")
    # No Redis at all: the job table is the queue, workers poll it.
    env = drill_env(fresh_db, tmp_path, None, KEFU_JOBS_LEASE_SECONDS=str(LEASE), KEFU_JOBS_POLL_SECONDS="0.2")
    cmd = [sys.executable, "-m", "tests.drills._worker", "--concurrency", "1"]
    victim = start(procs, cmd, env, tmp_path / "worker-a.log")
    survivor = start(procs, cmd, env, tmp_path / "worker-b.log")

    slow = [f"slow-{i}" for i in range(6)]
    database = Database(fresh_db)
    try:
        with database.session() as s:
            for name in slow:
                enqueue(s, "drills.slow", {"name": name, "seconds": JOB_SECONDS})
    finally:
        database.dispose()

    def victim_busy() -> str | None:
        runs = _runs(fresh_db)
        done = {j for j, p, _ in runs if p == "done"}
        return next((j for j, p, pid in runs if p == "start" and pid == victim.pid and j not in done), None)

    killed_job = wait_for(victim_busy, 90, "the victim worker to start a job", interval=0.05)
    time.sleep(0.2)
    victim.kill()  # SIGKILL mid-job: no outcome recorded, no shutdown hook
    victim.wait(timeout=10)
    killed_at = time.monotonic()

    try:
        wait_for(lambda: set(slow) <= {j for j, p, _ in _runs(fresh_db) if p == "done"}, LEASE + 20, "every job")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_runs(fresh_db)}\n{tail(tmp_path / 'worker-b.log')}") from None
    recovered_after = time.monotonic() - killed_at

    runs = _runs(fresh_db)
    done = Counter(j for j, p, _ in runs if p == "done")
    assert {j: n for j, n in done.items() if n != 1} == {}, f"jobs finished more than once: {runs}"
    assert set(done) == set(slow)
    starts = [(p, pid) for j, p, pid in runs if j == killed_job]
    assert starts[0] == ("start", victim.pid) and ("done", survivor.pid) in starts
    assert recovered_after < LEASE + 15
    with psycopg.connect(fresh_db) as conn:
        left = conn.execute("SELECT count(*) FROM jobs WHERE name = 'drills.slow'").fetchone()
    assert left == (0,), "finished jobs are deleted; none is stuck"
    print(json.dumps({"killed_job": killed_job, "recovered_after_s": round(recovered_after, 1), "runs": len(runs)}))
