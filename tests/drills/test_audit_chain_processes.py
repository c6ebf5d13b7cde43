"""Drill: two processes append to the audit chain at once (each with its own head guess, kefu.audit.chain), on
PostgreSQL and on a SQLite file; the chain verifies, every entry is there once, and a SIGKILLed appender leaves
it valid too."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.drills.conftest import counts_by, in_session, start

APPENDER = """
import sys, time
from kefu.audit.service import record
from kefu.core.db import Database
url, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
database = Database(url)
while time.time() < go:
    time.sleep(0.005)
for i in range(n):
    with database.session() as s:
        record(s, None, "drill.append", target_type=tag, target_id=f"{i}a")
        record(s, None, "drill.append", target_type=tag, target_id=f"{i}b")
database.dispose()
"""


def _appenders(
    procs: list[subprocess.Popen[bytes]], url: str, tags: list[str], n: int, tmp_path: Path
) -> list[subprocess.Popen[bytes]]:
    go = str(time.time() + 4)  # both start appending at the same instant, after their imports
    env = {**os.environ, "KEFU_DATABASE_URL": url}
    args = [sys.executable, "-c", APPENDER, url]
    return [start(procs, [*args, tag, str(n), go], env, tmp_path / f"{tag}.log") for tag in tags]


def _chain(url: str) -> tuple[list[str], list[int], list[str]]:
    from sqlalchemy import select

    from kefu.audit.chain import verify_chain
    from kefu.audit.models import AuditLog

    def read(s: Any) -> tuple[list[Any], list[str]]:
        return list(s.execute(select(AuditLog.target_type, AuditLog.target_id, AuditLog.seq))), verify_chain(s).problems

    rows, problems = in_session(url, read)
    return [f"{r.target_type}:{r.target_id}" for r in rows], [int(r.seq) for r in rows], problems


def _wait_for_appends(url: str, tags: list[str], at_least: int, within: float = 120.0) -> None:
    """Wait until every tag has at least `at_least` chain entries."""
    from kefu.audit.models import AuditLog

    deadline = time.monotonic() + within
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = counts_by(url, AuditLog.target_type, tags)
        if all(seen.get(t, 0) >= at_least for t in tags):
            return
        time.sleep(0.2)
    raise AssertionError(f"appenders did not get going within {within} s: {seen}")


def test_two_processes_appending_keep_one_valid_chain(any_db: str, tmp_path: Path, procs: list[Any]) -> None:
    n = 60
    for p in _appenders(procs, any_db, ["p1", "p2"], n, tmp_path):
        assert p.wait(timeout=300) == 0, (tmp_path / "p1.log").read_text() + (tmp_path / "p2.log").read_text()
    entries, seqs, problems = _chain(any_db)
    assert not problems, problems
    mine = [e for e in entries if e.startswith(("p1:", "p2:"))]
    assert len(mine) == 4 * n and len(set(mine)) == 4 * n  # none lost, none twice
    assert len(set(seqs)) == len(seqs)


def test_a_killed_appender_leaves_a_valid_chain(any_db: str, tmp_path: Path, procs: list[Any]) -> None:
    k1, k2 = _appenders(procs, any_db, ["k1", "k2"], 100_000, tmp_path)
    _wait_for_appends(any_db, ["k1", "k2"], at_least=40)  # both appending (a fixed sleep missed it on a loaded host)
    k1.kill()  # SIGKILL
    k1.wait(timeout=10)
    time.sleep(1)
    k2.kill()
    k2.wait(timeout=10)
    entries, seqs, problems = _chain(any_db)
    assert not problems, problems
    assert len([e for e in entries if e.startswith("k1:")]) > 0 and len([e for e in entries if e.startswith("k2:")]) > 0
    assert len(set(seqs)) == len(seqs)
    # Each transaction wrote its two entries or neither.
    for tag in ("k1", "k2"):
        ids = {e.split(":", 1)[1] for e in entries if e.startswith(f"{tag}:")}
        assert all((i[:-1] + "a" in ids) and (i[:-1] + "b" in ids) for i in ids), tag
