"""Test fixtures: real SQLite and PostgreSQL (schema built by migrations, one savepoint per test), Redis.

Worker-safe under pytest-xdist (`make unit` runs `-n auto`): every database, port, temp dir and Redis DB is per worker.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("KEFU_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL")
# In CI the PostgreSQL/Redis paths must run; a missing service is a failure, not a skip.
REQUIRE = os.environ.get("KEFU_TEST_REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex + uuid.uuid4().hex)
# "gw0", "gw1", ... under pytest-xdist; "master" in a plain run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "master")


def _cheap_password_hashing() -> None:
    """Argon2id at its minimum cost in the test process: production cost (64 MiB, 3 passes, 4 lanes) takes 50-100 ms
    per hash or verify on an idle core, and every agent a test makes or logs in pays it; the format is unchanged."""
    from argon2 import PasswordHasher

    from kefu.core import security

    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    security._DUMMY_HASH = security._hasher.hash("kefu-dummy-password")


_cheap_password_hashing()


def _unavailable(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is required in CI but unavailable", pytrace=False)
    pytest.skip(f"{what} not configured")


def _pg_admin_url() -> str:
    assert PG_URL
    return PG_URL


def create_pg_database(admin_url: str) -> str:
    """Create a uniquely named database next to the one in admin_url; returns its URL."""
    import psycopg

    name = f"kefu_t_{uuid.uuid4().hex[:12]}"  # unique per call, so xdist workers and parallel runs never share one
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    """Drop a database made by create_pg_database."""
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Templates:
    """A database of each backend migrated to heads once per process; tests that need a fresh one get a copy.

    Running the migrations takes 4-8 s per database on a busy CI core, and a dozen files made their own database that
    way per test; a copy of the migrated SQLite file or a PostgreSQL `CREATE DATABASE ... TEMPLATE` takes a fraction
    of a second and holds the same schema, seed rows and alembic_version. Tests of the migrations themselves still
    call upgrade() on an empty database.
    """

    def __init__(self) -> None:
        self.sqlite_file: Path | None = None
        self.pg_url: str | None = None

    def sqlite(self, path: Path) -> str:
        """A migrated SQLite database at `path` (a copy of the template); returns its URL."""
        import sqlite3
        import tempfile

        from kefu.core.migrate import upgrade

        if self.sqlite_file is None:
            template = Path(tempfile.mkdtemp(prefix=f"kefu-template-{WORKER}-")) / "template.db"
            upgrade(f"sqlite:///{template}")
            conn = sqlite3.connect(template)  # the last connection to close folds the WAL into the file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self.sqlite_file = template
        shutil.copyfile(self.sqlite_file, path)
        return f"sqlite:///{path}"

    def postgresql(self, admin_url: str) -> str:
        """A migrated PostgreSQL database of its own (drop it with drop_pg_database); returns its URL."""
        import psycopg

        from kefu.core.migrate import upgrade

        if self.pg_url is None:
            url = create_pg_database(admin_url)
            upgrade(url)  # its engine is disposed: nothing stays connected, as TEMPLATE requires
            self.pg_url = url
        name = f"kefu_t_{uuid.uuid4().hex[:12]}"
        template = self.pg_url.rpartition("/")[2]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return f"{admin_url.rpartition('/')[0]}/{name}"

    def close(self) -> None:
        """Remove the templates."""
        if self.sqlite_file is not None:
            shutil.rmtree(self.sqlite_file.parent, ignore_errors=True)
        if self.pg_url is not None and PG_URL:
            drop_pg_database(PG_URL, self.pg_url)


TEMPLATES = _Templates()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this process's template databases."""
    TEMPLATES.close()


def migrated_sqlite(path: Path) -> str:
    """A SQLite file at `path` with the schema at heads; returns its URL."""
    return TEMPLATES.sqlite(path)


def migrated_pg(admin_url: str) -> str:
    """A PostgreSQL database of its own with the schema at heads (drop it with drop_pg_database); returns its URL."""
    return TEMPLATES.postgresql(admin_url)


@pytest.fixture
def shared_db(tmp_path: Path) -> Iterator[str]:
    """A committed (non-savepoint) database that several processes share: PostgreSQL when available."""
    if PG_URL:
        url = migrated_pg(PG_URL)
        yield url
        drop_pg_database(PG_URL, url)
    else:
        yield migrated_sqlite(tmp_path / "shared.db")


class _Backends:
    """The migrated database and engine of each backend, made on first use and kept until the session ends.

    `db_url` is a parametrized session fixture: pytest tears it down whenever the next test wants the other backend.
    A plain run orders tests so that happens once, but xdist hands each worker tests from both halves (and groups of
    a module), so every switch would rebuild the schema; caching here makes a switch free.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.urls: dict[str, str] = {}
        self.engines: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}

    def url(self, backend: str) -> str:
        """The migrated database of `backend`, made now if this is its first use."""
        if backend in self.unavailable:
            _unavailable(self.unavailable[backend])
        if backend not in self.urls:
            if backend == "sqlite":
                url = migrated_sqlite(self.tmp_path_factory.mktemp("db") / "kefu.db")
            else:
                if not PG_URL:
                    self.unavailable[backend] = "PostgreSQL (KEFU_TEST_DATABASE_URL)"
                    _unavailable(self.unavailable[backend])
                try:
                    import psycopg

                    psycopg.connect(_pg_admin_url(), connect_timeout=10).close()
                except Exception as exc:  # connection refused etc.
                    self.unavailable[backend] = f"PostgreSQL ({exc})"
                    _unavailable(self.unavailable[backend])
                    raise
                url = migrated_pg(_pg_admin_url())
            self.urls[backend] = url
        return self.urls[backend]

    def engine(self, url: str) -> Any:
        """One engine per database for the whole run."""
        from kefu.core.db import make_engine

        if url not in self.engines:
            self.engines[url] = make_engine(url)
        return self.engines[url]

    def close(self) -> None:
        """Dispose the engines and drop the PostgreSQL database."""
        for eng in self.engines.values():
            eng.dispose()
        url = self.urls.get("postgresql")
        if url:
            from kefu.core import runtime
            from kefu.core.db import DATABASE

            runtime.current().discard(DATABASE)
            drop_pg_database(_pg_admin_url(), url)


@pytest.fixture(scope="session")
def _backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Backends]:
    """The per-backend database cache behind db_url and engine."""
    backends = _Backends(tmp_path_factory)
    try:
        yield backends
    finally:
        backends.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, _backends: _Backends) -> str:
    """A migrated database per backend for the whole run."""
    return _backends.url(request.param)


@pytest.fixture(scope="session")
def engine(db_url: str, _backends: _Backends) -> Any:
    """Engine on the migrated test database."""
    return _backends.engine(db_url)


@pytest.fixture
def connection(engine: Any) -> Iterator[Any]:
    """A connection whose outer transaction is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    if trans.is_active:
        trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Any) -> Callable[[], Any]:
    """Sessions that commit into a savepoint of the test's connection."""
    from sqlalchemy.orm import Session

    def factory() -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    return factory


@pytest.fixture
def db(session_factory: Callable[[], Any]) -> Iterator[Any]:
    """A session for service-level tests."""
    session = session_factory()
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _runtime_restored() -> Iterator[None]:
    """A test that wires a runtime (create_app, a CLI command, the bot eval) leaves the process's runtime as it was."""
    from kefu.core import runtime

    before = runtime.current()
    yield
    runtime.install(before)


@pytest.fixture(autouse=True)
def bot_registry() -> Iterator[Any]:
    """A fresh bot index registry per test, built synchronously (no thread on the test connection, no stale index)."""
    from kefu.bot.engine import INDEX_REGISTRY, IndexRegistry
    from kefu.core import runtime

    registry = IndexRegistry(background=False, check_interval=0.0)
    with runtime.override(INDEX_REGISTRY, registry):
        yield registry


@pytest.fixture
def bus() -> Iterator[Any]:
    """A fresh in-process bus installed as the process bus."""
    from kefu.core import runtime
    from kefu.core.events import BUS, MemoryBus

    with runtime.override(BUS, MemoryBus()) as b:
        yield b


@pytest.fixture
def events(bus: Any) -> list[Any]:
    """Events published (after commit) during the test."""
    seen: list[Any] = []
    bus.add_listener(seen.append)
    return seen


@pytest.fixture
def jobs() -> Iterator[Any]:
    """A fresh in-process job queue installed as the process queue."""
    from kefu.core import runtime
    from kefu.core.jobs import QUEUE, MemoryJobQueue

    with runtime.override(QUEUE, MemoryJobQueue(base_delay=0.01, inline=True)) as q:
        yield q
        q.stop()


@pytest.fixture
def settings(db_url: str) -> Any:
    """Settings for an app under test."""
    from kefu.core.config import Settings

    return Settings(env="test", database_url=db_url, redis_url=None, login_max_failures=5, scheduler=False)


@pytest.fixture
def app(settings: Any, session_factory: Callable[[], Any], bus: Any, jobs: Any, engine: Any) -> Any:
    """The ASGI app wired to the test transaction."""
    from kefu.core.db import Database
    from kefu.web.app import create_app

    database = Database.__new__(Database)
    database.url = settings.database_url
    database.engine = engine
    database.sessionmaker = session_factory  # type: ignore[assignment]
    application = create_app(settings, database=database, bus=bus)
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    """HTTP test client (runs the lifespan)."""
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as c:
        yield c


class QueryLog:
    """SQL statements the application sent (test-harness SAVEPOINT/RELEASE/ROLLBACK TO excluded)."""

    HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        """Number of statements."""
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1:3}. {' '.join(s.split())[:200]}" for i, s in enumerate(self.statements))


@pytest.fixture
def count_queries(engine: Any) -> Callable[[], Any]:
    """`with count_queries() as q: ...` records the statements run on the test database (q.count, str(q))."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting() -> Iterator[QueryLog]:
        log = QueryLog()

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not statement.lstrip().upper().startswith(QueryLog.HARNESS):
                log.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield log
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


# ---------------------------------------------------------------- factories


class Factory:
    """Creates domain objects through the real services."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def brand(self, **kw: Any) -> Any:
        """A brand."""
        from kefu.brands.service import create_brand

        n = self._next()
        kw.setdefault("slug", f"brand{n}-{uuid.uuid4().hex[:6]}")
        kw.setdefault("name", f"Brand {n}")
        b = create_brand(self.db, **kw)
        self.db.commit()
        return b

    def agent(self, role: str = "agent", brands: list[Any] | None = None, password: str = "correct horse 1") -> Any:
        """An agent with access to the given brands."""
        from kefu.auth.service import create_agent

        n = self._next()
        a = create_agent(
            self.db,
            email=f"{role}{n}-{uuid.uuid4().hex[:6]}@example.com",
            name=f"{role} {n}",
            password=password,
            role=role,
            brand_ids=[b.id for b in brands or []],
        )
        self.db.commit()
        return a

    def token(self, agent: Any, scopes: list[str] | None = None) -> dict[str, str]:
        """Authorization header for a fresh token of `agent`."""
        from kefu.auth.service import create_token

        _, raw = create_token(self.db, agent, name="test", scopes=scopes, expires_at=None, actor=None)
        self.db.commit()
        return {"Authorization": f"Bearer {raw}"}

    def customer(self, brand: Any, **kw: Any) -> Any:
        """A customer."""
        from kefu.customers.service import create_customer

        c = create_customer(self.db, brand_id=brand.id, actor=None, **kw)
        self.db.commit()
        return c


@pytest.fixture
def make(db: Any) -> Factory:
    """Object factory bound to the test session."""
    return Factory(db)


# ---------------------------------------------------------------- Redis and subprocess helpers


def worker_redis_url(url: str, worker: str = WORKER) -> str:
    """The Redis URL of this xdist worker: gw<n> uses DB (base + 1 + n) % 16, a plain run the configured DB.

    Keys are also prefixed per test; the separate DB keeps one worker's leftovers out of another's view.
    """
    from urllib.parse import urlsplit, urlunsplit

    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    db = parts.path.strip("/")
    number = (int(db) if db.isdigit() else 0) + 1 + int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{number % 16}"))


@pytest.fixture
def redis_url() -> str:
    """Redis URL for tests (skips locally, fails in CI, when absent); one DB per xdist worker."""
    if not REDIS_URL:
        _unavailable("Redis (KEFU_TEST_REDIS_URL)")
    import redis

    assert REDIS_URL
    url = worker_redis_url(REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis ({exc})")
    return url


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 30.0) -> float:
    """Poll until url answers 200; returns seconds waited."""
    import httpx

    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last})")


def kefu_cmd(*args: str) -> list[str]:
    """Command line running the kefu CLI with this interpreter."""
    return [sys.executable, "-m", "kefu", *args]


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a background process with output to a log file."""
    fh = log.open("wb")
    return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=str(ROOT))


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening socket on 127.0.0.1:`port` (Linux /proc; elsewhere: assume so)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return True
    for row in rows:
        cols = row.split()
        if cols[1] == f"0100007F:{port:04X}" and cols[3] == "0A" and f"socket:[{cols[9]}]" in inodes:
            return True
    return False


def serve_live(env: dict[str, str], log: Path, timeout: float = 120.0) -> tuple[subprocess.Popen[bytes], str]:
    """`kefu serve` on a free loopback port; returns the process and its base URL once it answers /healthz.

    free_port() only names a port that was free a moment ago: another xdist worker's server or any outgoing
    connection may take it before `kefu serve` binds it. Then the server exits (address in use), or worse, /healthz
    answers from the other process; both are caught here and the server starts again on another port.
    """
    import httpx

    last = ""
    for _ in range(5):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = spawn(kefu_cmd("serve", "--port", str(port)), {**env, "KEFU_BASE_URL": base}, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200 and _listens(proc.pid, port):
                    return proc, base
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        stop(proc)
        last = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        if time.monotonic() >= deadline:
            break
    raise TimeoutError(f"kefu serve did not come up within {timeout}s; its log ends:\n{last}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate and reap a background process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser); per module, so Playwright's loop never outlives it."""
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        if REQUIRE:
            pytest.fail("chromium is required in CI (apt-get install chromium fonts-wqy-microhei)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield _PatientBrowser(b)
        b.close()


# Playwright's default wait is 30 s. CI runs the suite with -n 2 on two cores, so a browser test's server shares
# them with another worker's Chromium and server: a page or an htmx swap that takes 1 s alone can take far longer.
# Waits that fail only by timing out cost nothing when things are fast, so every context waits up to 60 s.
BROWSER_TIMEOUT_MS = 60_000


class _PatientBrowser:
    """The launched Browser, whose new contexts and pages wait BROWSER_TIMEOUT_MS by default."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    def new_context(self, **kwargs: Any) -> Any:
        """A context with the longer default timeout."""
        context = self._browser.new_context(**kwargs)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        return context

    def new_page(self, **kwargs: Any) -> Any:
        """A page (in its own context) with the longer default timeout."""
        page = self._browser.new_page(**kwargs)
        page.context.set_default_timeout(BROWSER_TIMEOUT_MS)
        return page
