"""Drill harness: private PostgreSQL and Redis servers that tests may stop, `kefu serve` processes to SIGKILL,
client load until a server dies, databases of each backend, process bookkeeping, seeding and counting.

Drills elsewhere (tests/idempotency, tests/channels) import the helpers from here; fixtures stay drill-local."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.channels.servers import dovecot, upstream  # noqa: F401 - mail server fixtures
from tests.conftest import (
    PG_URL,
    REQUIRE,
    drop_pg_database,
    free_port,
    kefu_cmd,
    migrated_pg,
    migrated_sqlite,
    spawn,
    wait_http,
)

T = TypeVar("T")

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


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A migrated database of its own on the shared PostgreSQL server, dropped afterwards."""
    admin = need_pg_url()
    url = migrated_pg(admin)
    try:
        yield url
    finally:
        drop_pg_database(admin, url)


@pytest.fixture
def fresh_db() -> Iterator[str]:
    """A migrated, committed database on the shared PostgreSQL server."""
    with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, committed database of each backend: a SQLite file, then one on the shared PostgreSQL server."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "kefu.db")
        return
    with pg_database() as url:
        yield url


class Serve:
    """`kefu serve` in its own process group, so SIGKILL reaches every worker process at once.

    `with Serve(env, log) as server:` starts it and stops it (gracefully, else SIGKILL) on the way out.
    """

    def __init__(self, env: dict[str, str], log: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env, self.log, self.args = env, log, args
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self, preexec: Any = None) -> Serve:
        """Start and wait for /healthz."""
        self.proc = subprocess.Popen(
            kefu_cmd("serve", "--port", str(self.port), *self.args),
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,
        )
        try:
            wait_http(f"{self.base}/healthz", timeout=120)
        except TimeoutError as exc:
            self.kill()
            raise AssertionError(f"{exc}\n{tail(self.log)}") from None
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hooks, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (tests' cleanup)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Serve:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def servers() -> Iterator[list[Serve]]:
    """Servers a drill starts; stopped afterwards."""
    started: list[Serve] = []
    yield started
    for s in started:
        s.stop()


class Load:
    """Client threads sending in a loop until stop(), each ending at its first connection error (the server died:
    what it was sending then was never acknowledged). `send(http, worker, n)` returns what the server acknowledged."""

    def __init__(
        self,
        send: Callable[[httpx.Client, int, int], Iterable[Any]],
        threads: int,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> None:
        self.send, self.headers, self.timeout = send, headers or {}, timeout
        self.acked: list[Any] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(w,), daemon=True) for w in range(threads)]

    def start(self) -> Load:
        """Start the threads."""
        for t in self._threads:
            t.start()
        return self

    def _work(self, worker: int) -> None:
        with httpx.Client(timeout=self.timeout, headers=self.headers) as http:
            n = 0
            while not self._halt.is_set():
                n += 1
                try:
                    acked = list(self.send(http, worker, n))
                except httpx.HTTPError:
                    return
                with self._lock:
                    self.acked.extend(acked)

    def wait(self, count: int, timeout: float, what: str = "acknowledged requests") -> None:
        """Until at least `count` things were acknowledged."""
        wait_for(lambda: len(self.acked) >= count, timeout, f"{count} {what}", interval=0.01)

    def stop(self) -> None:
        """Stop sending and wait for the threads."""
        self._halt.set()
        for t in self._threads:
            t.join(30)


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

    def make(s: Any) -> dict[str, Any]:
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
            out["inbox_id"] = create_inbox(s, brand, kind=inbox_kind, name=inbox_kind, config=cfg, actor=None).id
        return out

    return in_session(db_url, make)


def in_session(db_url: str, fn: Callable[[Any], T]) -> T:
    """fn(session) in one unit of work on an engine of its own (disposed afterwards): what a drill reads back."""
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            return fn(s)
    finally:
        database.dispose()


def counts_by(db_url: str, column: Any, values: list[str]) -> dict[str, int]:
    """How many rows of column's table exist per value of `column` among `values`."""
    from sqlalchemy import func, select

    stmt = select(column, func.count()).where(column.in_(values)).group_by(column)
    return in_session(db_url, lambda s: {str(v): int(n) for v, n in s.execute(stmt).all()})


def message_counts(db_url: str, provider_ids: list[str]) -> dict[str, int]:
    """How many timeline messages exist per provider message id."""
    from kefu.conversations.models import Message

    return counts_by(db_url, Message.provider_message_id, provider_ids)


def event_counts(db_url: str, provider_ids: list[str]) -> dict[str, int]:
    """How many inbound_events rows exist per provider id."""
    from kefu.channels.models import InboundEvent

    return counts_by(db_url, InboundEvent.provider_id, provider_ids)


def tail(path: Path, n: int = 3000) -> str:
    """The end of a log file (assertion messages)."""
    return path.read_text(errors="replace")[-n:] if path.exists() else ""
