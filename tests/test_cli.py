"""The kefu CLI: db upgrade, demo, user create, and `kefu serve` answering like `make run` does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import free_port, kefu_cmd, spawn, stop, wait_http


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from kefu.core import runtime
    from kefu.core.config import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    previous = runtime.install(None)  # a fresh implicit runtime: the database comes from KEFU_DATABASE_URL
    yield url
    get_settings.cache_clear()
    runtime.install(previous)


def test_db_upgrade_demo_and_user_create(cli_db: str) -> None:
    from sqlalchemy import func, select

    from kefu.auth.models import Agent
    from kefu.cli import app
    from kefu.core.db import get_database
    from kefu.knowledge.models import FaqEntry
    from kefu.tickets.models import Ticket

    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0 and "admin@kefu.local" in r.output
    assert "already present" in runner.invoke(app, ["demo"]).output
    r = runner.invoke(
        app,
        [
            "user",
            "create",
            "--email",
            "New@Example.com",
            "--name",
            "新同事",
            "--role",
            "supervisor",
            "--password",
            "a long password",
            "--brand",
            "demo",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["user", "create", "--email", "new@example.com", "--name", "dup", "--password", "a long password"],
    )
    assert r.exit_code == 1 and "already exists" in r.output
    with get_database().session() as s:
        assert s.scalar(select(Agent.role).where(Agent.email == "new@example.com")) == "supervisor"
        locales = set(s.scalars(select(FaqEntry.locale)))
        assert locales == {"zh-TW", "zh-CN", "en"}
        assert (s.scalar(select(func.count(Ticket.id))) or 0) >= 3


def test_serve_answers_healthz_and_docs_within_60s(tmp_path: Path) -> None:
    import subprocess
    import time

    url = f"sqlite:///{tmp_path / 'run.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update({"KEFU_DATABASE_URL": url, "KEFU_LOG_LEVEL": "WARNING"})
    start = time.monotonic()
    subprocess.run(kefu_cmd("db", "upgrade"), env=env, check=True, capture_output=True)
    subprocess.run(kefu_cmd("demo"), env=env, check=True, capture_output=True)
    port = free_port()
    proc = spawn(kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        assert time.monotonic() - start < 120  # 60 s is .ci/run's smoke on an idle machine
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"email": "admin@kefu.local", "password": "kefu-demo-pass"},
            timeout=10,
        )
        assert login.status_code == 200
    finally:
        stop(proc)


def test_worker_runs_without_redis_help(cli_db: str) -> None:
    """The job queue lives in the database now (#15): the worker needs no Redis, which only wakes it early."""
    from kefu.cli import app

    r = CliRunner().invoke(app, ["worker", "--help"])
    assert r.exit_code == 0 and "--concurrency" in r.output
