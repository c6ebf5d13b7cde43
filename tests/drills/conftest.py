"""Drill harness: private PostgreSQL and Redis servers that tests may stop, process bookkeeping, seeding."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.channels.servers import dovecot, upstream  # noqa: F401 - mail server fixtures
from tests.conftest import PG_URL, REQUIRE, create_pg_database, drop_pg_database, free_port, spawn

PG_BIN = Path(os.environ.get("KEFU_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET = "drill-line-secret"


def need(path: str | Path | None, what: str) -> str:
    """The binary's path; skips locally (fails in CI) when it is missing."""
    if path is None or not (Path(path).exists() or shutil.which(str(path))):
        if REQUIRE:
            pytest.fail(f"{what} is required in CI but missing", pytrace=False)
        pytest.skip(f"{what} not installed")
    return str(path)


def need_pg_url() -> str:
    """The shared PostgreSQL admin URL (skips locally, fails in CI)."""
    if not PG_URL:
        if REQUIRE:
            pytest.fail("PostgreSQL (KEFU_TEST_DATABASE_URL) is required in CI", pytrace=False)
        pytest.skip("PostgreSQL (KEFU_TEST_DATABASE_URL) not configured")
    return PG_URL


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll until check() is truthy; returns its value or fails with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PgServer:
    """A throwaway PostgreSQL cluster on a loopback port that a drill may stop and start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` OS user.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        # fsync=off: a process crash (immediate stop) still loses no committed transaction, only an OS crash would.
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{root}'\n"
                "fsync = off\nfull_page_writes = off\nmax_connections = 200\n"
            )

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(PG_BIN / tool), *args], check=True, capture_output=True, cwd=str(self.root), timeout=60
        )

    @property
    def admin_url(self) -> str:
        """URL of the `postgres` maintenance database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "pg.log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop (`immediate` is a crash: no checkpoint, recovery from WAL on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        """True while the postmaster runs."""
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A private PostgreSQL server (started); always stopped and removed afterwards."""
    initdb = need(PG_BIN / "initdb", f"PostgreSQL server binaries ({PG_BIN}/initdb)")
    del initdb
    root = Path(tempfile.mkdtemp(prefix="kefu-drill-pg-"))
    os.chmod(root, 0o755)
    server = PgServer(root)
    server.start()
    try:
        yield server
    finally:
        if server.running():
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class RedisServer:
    """A private redis-server without persistence, on a fixed port so it can come back where clients expect it."""

    def __init__(self, binary: str, log: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait for PONG."""
        import redis

        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_for(lambda: _ping(client), 10, "redis-server to answer")
        client.close()

    def kill(self) -> None:
        """SIGKILL: the server and everything it held in memory are gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis server (started); killed afterwards."""
    server = RedisServer(need("redis-server", "redis-server"), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def fresh_db() -> Iterator[str]:
    """A migrated, committed database on the shared PostgreSQL server."""
    from kefu.core.migrate import upgrade

    admin = need_pg_url()
    url = create_pg_database(admin)
    upgrade(url)
    try:
        yield url
    finally:
        drop_pg_database(admin, url)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a drill spawns; any still alive at the end are killed and reaped."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.terminate()
    for p in started:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def start(
    procs: list[subprocess.Popen[bytes]], args: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Spawn a background process and register it for cleanup."""
    proc = spawn(args, env, log)
    procs.append(proc)
    return proc


def drill_env(db_url: str, tmp_path: Path, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of a kefu process in a drill (fast sweeps and retries so recovery fits in seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_ENV": "test",
            "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
            "KEFU_DATABASE_URL": db_url,
            "KEFU_DATA_DIR": str(tmp_path / "data"),
            "KEFU_LOG_LEVEL": "WARNING",
            "KEFU_REDIS_PREFIX": f"drill-{uuid.uuid4().hex[:8]}",
            "KEFU_CHANNELS_SWEEP_SECONDS": "0.5",
            "KEFU_CHANNELS_SWEEP_GRACE_SECONDS": "2",
            "KEFU_OUTBOX_BASE_DELAY_SECONDS": "0.3",
            "KEFU_OUTBOX_MAX_DELAY_SECONDS": "1",
            # The fake providers listen on loopback, which the SSRF guard refuses unless the operator allows it.
            "KEFU_OUTBOUND_ALLOW": "127.0.0.1/32",
        }
    )
    if redis_url:
        env["KEFU_REDIS_URL"] = redis_url
    env.update(extra)
    return env


def seed(db_url: str, inbox_kind: str | None = "line", inbox_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A brand, an agent with a bearer token and (optionally) one inbox; returns their ids and the token."""
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand, create_inbox
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            brand = create_brand(s, slug=f"drill-{uuid.uuid4().hex[:6]}", name="Drill")
            agent = create_agent(
                s,
                email=f"agent-{uuid.uuid4().hex[:6]}@example.com",
                name="Agent",
                password="long password 1",
                role="agent",
                brand_ids=[brand.id],
            )
            _, token = create_token(s, agent, name="drill", scopes=None, expires_at=None, actor=None)
            out: dict[str, Any] = {"brand_id": brand.id, "token": token, "inbox_id": None}
            if inbox_kind:
                cfg = inbox_config if inbox_config is not None else {"channel_secret": SECRET, "initial_status": "open"}
                inbox = create_inbox(s, brand, kind=inbox_kind, name=inbox_kind, config=cfg, actor=None)
                out["inbox_id"] = inbox.id
    finally:
        database.dispose()
    return out


def message_counts(db_url: str, provider_ids: list[str]) -> dict[str, int]:
    """How many timeline messages exist per provider message id."""
    from sqlalchemy import func, select

    from kefu.conversations.models import Message
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            rows = s.execute(
                select(Message.provider_message_id, func.count(Message.id))
                .where(Message.provider_message_id.in_(provider_ids))
                .group_by(Message.provider_message_id)
            ).all()
    finally:
        database.dispose()
    return {str(pid): int(n) for pid, n in rows}


def event_counts(db_url: str, provider_ids: list[str]) -> dict[str, int]:
    """How many inbound_events rows exist per provider id."""
    from sqlalchemy import func, select

    from kefu.channels.models import InboundEvent
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            rows = s.execute(
                select(InboundEvent.provider_id, func.count(InboundEvent.id))
                .where(InboundEvent.provider_id.in_(provider_ids))
                .group_by(InboundEvent.provider_id)
            ).all()
    finally:
        database.dispose()
    return {str(pid): int(n) for pid, n in rows}


def tail(path: Path, n: int = 3000) -> str:
    """The end of a log file (assertion messages)."""
    return path.read_text(errors="replace")[-n:] if path.exists() else ""
