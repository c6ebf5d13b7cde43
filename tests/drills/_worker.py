"""`kefu worker` for drills, plus a slow recording job (the takeover delay comes from KEFU_JOBS_LEASE_SECONDS)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from kefu.core.jobs import job


def _record(name: str, phase: str) -> None:
    import psycopg

    with psycopg.connect(os.environ["KEFU_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO drill_runs (job, phase, pid) VALUES (%s, %s, %s)", (name, phase, os.getpid()))


@job("drills.slow")
def slow(payload: dict[str, Any]) -> None:
    """Record the start, work for payload['seconds'], record the end (a kill in between loses only the end)."""
    _record(str(payload["name"]), "start")
    time.sleep(float(payload["seconds"]))
    _record(str(payload["name"]), "done")


if __name__ == "__main__":
    from kefu.cli import app

    app(["worker", *sys.argv[1:]])
