"""Database engine, session factory, declarative base and after-commit hooks."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Insert,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, QueuePool
from sqlalchemy.types import TypeDecorator

from kefu.core import runtime
from kefu.core.config import Settings
from kefu.core.textrules import json_dumps

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Normalise to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Re-attach UTC on the way out."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


M = TypeVar("M")


class Base(DeclarativeBase):
    """Declarative base for every kefu model."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
    }


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers proceed during writes. NORMAL syncs the WAL only at checkpoints: a commit survives an
    # application or process crash, but an OS crash or power loss may roll back the last commits (docs/DEPLOYING.md).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


WRITE_WAIT_SECONDS = 15.0
"""The longest a writer waits for a lock another transaction holds (default of KEFU_DB_WRITE_WAIT_SECONDS). SQLite:
the WriterGate (this process's queue, then the `<db>-writer` file lock) and then SQLite's busy handler share it;
PostgreSQL: the connections' `lock_timeout` (row, table and advisory locks alike). A stuck writer elsewhere costs
others this long before their lock error (503 + Retry-After, `transient_db_error`); shorter than typical proxy
timeouts (nginx: 60 s)."""

STATEMENT_TIMEOUT_SECONDS = 60.0
"""PostgreSQL's `statement_timeout` on every connection (default of KEFU_DB_STATEMENT_TIMEOUT_SECONDS; 0 = off): a
runaway query is cancelled (57014, `transient_db_error`: 503 + Retry-After) instead of holding its worker for good."""

# SQLSTATEs of a lock or statement wait cut short (lock_timeout, statement_timeout, a cancel): retry later.
_TRANSIENT_SQLSTATES = frozenset({"55P03", "57014"})


# SQLite result codes of an OperationalError that no wait cures (SQLITE_ERROR: no such table/column, bad SQL).
_SQLITE_PERMANENT = frozenset({"SQLITE_ERROR"})
# PostgreSQL SQLSTATE classes psycopg raises as OperationalError that no wait cures: 54, a program limit exceeded
# (too many columns or arguments, an index row too large) fails the same statement every time.
_PG_PERMANENT_CLASSES = frozenset({"54"})


def _sqlite_code(orig: BaseException | None) -> str | None:
    return getattr(orig, "sqlite_errorname", None)


def _pg_code(exc: BaseException) -> str:
    """The SQLSTATE of a psycopg error, bare or wrapped by SQLAlchemy ("" for anything else)."""
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code if isinstance(code, str) else ""


def transient_db_error(exc: BaseException | None) -> bool:
    """True when exc (or what it wraps) means "the database cannot serve this now, retry later": unreachable, a pool
    timeout, a lock or statement timeout. The one rule for 503 + Retry-After (kefu.web.problems) and job retries."""
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OperationalError) and _sqlite_code(exc.orig) in _SQLITE_PERMANENT:
            return False  # a missing table or a bad statement is a bug: retrying (jobs never dead-letter) cannot help
        if _pg_code(exc)[:2] in _PG_PERMANENT_CLASSES:
            return False  # the same statement would exceed the same limit on every retry
        if isinstance(exc, (OperationalError, PoolTimeout)):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if getattr(exc, "sqlstate", None) in _TRANSIENT_SQLSTATES:  # a driver error not wrapped by SQLAlchemy
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class WriterGate:
    """One SQLite writer at a time: this process's threads queue first come, first served; processes on a file lock.

    SQLite's busy handler sleeps 1, 2, 5 … up to 100 ms between tries and lets whoever tries at the right instant
    win, so under load some writers waited seconds. Here a writer waits on a lock that is handed to the next
    waiter in order the moment the previous writer has committed, and only the holder asks SQLite for the write
    lock. Across processes the holder also takes an exclusive flock on a sidecar file (`<db>-writer`), retried in steps
    of at most 2 ms until the turn's deadline (then SQLite's busy handler decides with what is left of the writer's
    budget, WRITE_WAIT_SECONDS, so a stuck process costs others an error, not a hang); processes that do not use it
    (the sqlite3 shell) still meet in the busy handler.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Lock] = deque()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._pid = 0
        self._file_held = False
        self.waits = 0  # writers that had to queue (benchmarks, tests)
        self.wait_seconds = 0.0
        self.hold_seconds = 0.0
        self.acquired = 0
        self._since = 0.0

    def acquire(self, timeout: float) -> bool:
        """Wait for this process's turn, then for the file lock; False if the turn did not come within timeout."""
        t0 = time.perf_counter()
        with self._mutex:
            if not self._held and not self._waiters:
                self._held, turn = True, None
            else:
                turn = threading.Lock()
                turn.acquire()
                self._waiters.append(turn)
        if turn is not None and not turn.acquire(timeout=timeout):
            with self._mutex:
                if turn in self._waiters:  # else handed over just as the wait timed out: the turn is ours
                    self._waiters.remove(turn)
                    return False
        if self._lock_path is not None:
            try:
                if self._fd is None or self._pid != os.getpid():  # a forked child must not share the parent's lock
                    self._fd, self._pid = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
                self._file_held = self._lock_file(self._fd, t0 + timeout)
            except BaseException:
                self._since = time.perf_counter()
                self.release(file_lock=False)
                raise
        self._since = time.perf_counter()
        self.acquired += 1
        if turn is not None:
            self.waits += 1
        self.wait_seconds += self._since - t0
        return True

    @staticmethod
    def _lock_file(fd: int, deadline: float) -> bool:
        """Take the cross-process lock by `deadline`; False (SQLite's busy handler decides) if another process holds on.

        Bounded rather than a blocking flock: a process stuck inside a write transaction must cost the others a
        "database is locked" (503 + Retry-After) after the busy timeout, not hang every writer thread forever.
        """
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # freed by the kernel if the holder dies
                return True
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    return False
                time.sleep(pause)  # sub-millisecond to 2 ms steps: far finer than the busy handler's 100 ms
                pause = min(pause * 2, 0.002)

    def release(self, *, file_lock: bool = True) -> None:
        """End this writer's turn and hand it to the longest-waiting thread."""
        self.hold_seconds += time.perf_counter() - self._since
        if file_lock and self._fd is not None and self._file_held:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._file_held = False
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held: ownership passes straight to the next in line
            else:
                self._held = False

    def queued(self) -> int:
        """Threads waiting for their turn."""
        with self._mutex:
            return len(self._waiters)

    def close(self) -> None:
        """Close the lock file (the engine was disposed)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class Checkpointer:
    """Copies the WAL back into the database from a background thread, so no request's commit pays for it.

    With SQLite's automatic checkpoint the commit that grows the WAL past 1000 pages copies them and fsyncs the
    database file before its caller hears back. Here connections set wal_autocheckpoint=0 and this thread runs a
    PASSIVE checkpoint (it waits for no reader or writer) at most every `interval` seconds after commits; a
    checkpoint that cannot finish (a long reader) is simply retried after the next commits.
    """

    def __init__(self, path: str, interval: float = 0.5) -> None:
        self.path, self.interval = path, interval
        self._wake = threading.Event()
        self._stop: threading.Event | None = None  # the running thread's stop signal
        self._start = threading.Lock()
        self._worker: threading.Thread | None = None
        self.runs = 0

    def committed(self) -> None:
        """A transaction committed: checkpoint soon (starts the thread on first use, again after stop())."""
        if self._stop is None:
            with self._start:
                if self._stop is None:
                    self._stop = threading.Event()
                    worker = threading.Thread(
                        target=self._loop, args=(self._stop,), name="kefu-sqlite-checkpoint", daemon=True
                    )
                    worker.start()
                    self._worker = worker
        self._wake.set()

    def _loop(self, stop: threading.Event) -> None:
        conn = sqlite3.connect(self.path, timeout=1, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                if stop.is_set():
                    return
                if stop.wait(self.interval):  # let commits accumulate: one checkpoint per interval at most
                    return
                self._wake.clear()
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One PASSIVE checkpoint; errors are logged, never raised (the next commit retries)."""
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error:
            logging.getLogger("kefu.db").warning("WAL checkpoint failed", exc_info=True)

    def stop(self) -> None:
        """Stop the thread (engine disposed; the last connection to close checkpoints what is left)."""
        with self._start:
            stop, self._stop, worker, self._worker = self._stop, None, self._worker, None
        if stop is not None:
            stop.set()
            self._wake.set()
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=5)  # its connection is closed when this returns


def _pool_info(dbapi_conn: Any) -> dict[str, Any]:
    try:
        info: dict[str, Any] = dbapi_conn.info
    except (AttributeError, NotImplementedError):  # the dialect's first-connect probe has no pool record
        return {}
    return info


_GATES: weakref.WeakKeyDictionary[Engine, WriterGate] = weakref.WeakKeyDictionary()
_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, Checkpointer] = weakref.WeakKeyDictionary()


_URL_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(engine: Engine) -> str:
    """The engine's URL as a string (password hidden): the key of per-database process state (caches, chain head)."""
    # Rendering a URL costs microseconds, and hot paths ask several times per request.
    key = _URL_KEYS.get(engine)
    if key is None:
        key = _URL_KEYS[engine] = engine.url.render_as_string(hide_password=True)
    return key


def writer_gate(engine: Engine) -> WriterGate | None:
    """The writer gate of a SQLite engine made by make_engine (None for other engines)."""
    return _GATES.get(engine)


def checkpointer(engine: Engine) -> Checkpointer | None:
    """The background WAL checkpointer of a SQLite file engine made by make_engine (None otherwise)."""
    return _CHECKPOINTERS.get(engine)


def make_engine(
    url: str,
    *,
    pool: bool = True,
    write_wait: float = WRITE_WAIT_SECONDS,
    statement_timeout: float = STATEMENT_TIMEOUT_SECONDS,
) -> Engine:
    """Create an engine with kefu's per-backend tuning (`write_wait`: a writer's whole wait for a lock;
    `statement_timeout`: PostgreSQL's longest statement, 0 = the server's own setting)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        on_disk = "///" in url and path not in ("", ":memory:") and not path.startswith("file:")
        if on_disk:
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        gate = WriterGate(f"{path}-writer" if on_disk else None)

        class _TurnPool(QueuePool):
            """A writer waits for its turn *before* it is given a connection, and then gets the last one returned.

            SQLite empties a connection's page cache whenever another connection has written since its last
            transaction. With the turn taken at BEGIN, concurrent writers each held a different pooled connection
            while they queued, so nearly every write transaction re-read its pages (served creates: ~55 page
            reads per create at 8 concurrent requests, and overflow connections opened and closed under bursts).
            Taken before the checkout, writers follow each other on the most recently returned connection (LIFO),
            whose cache the previous writer left current. Read-intent checkouts (`READS`) skip the turn.
            """

            def _do_get(self) -> ConnectionPoolEntry:
                if getattr(_INTENT, "reading", False):
                    rec = super()._do_get()
                    rec.info.pop(_TURN_WAIT, None)
                    return rec
                t0 = time.perf_counter()
                granted = gate.acquire(timeout=write_wait)
                try:
                    rec = super()._do_get()
                except BaseException:
                    if granted:
                        gate.release()
                    raise
                if granted:
                    rec.info[_WRITER] = True
                rec.info[_TURN_WAIT] = time.perf_counter() - t0  # the BEGIN sizes the busy handler's budget by it
                return rec

        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": write_wait},
            poolclass=_TurnPool if pool else NullPool,
            **({"pool_use_lifo": True} if pool else {}),
            json_serializer=json_dumps,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _GATES[engine] = gate
        weakref.finalize(engine, gate.close)
        ckpt = Checkpointer(path) if on_disk else None
        if ckpt is not None:
            _CHECKPOINTERS[engine] = ckpt
            weakref.finalize(engine, ckpt.stop)  # an engine dropped without dispose() leaves no thread behind

        budget_ms = int(write_wait * 1000)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # kefu emits BEGIN itself (below)
            dbapi_conn.execute(f"PRAGMA busy_timeout={budget_ms}")
            if record is not None:
                record.info[_BUSY_MS] = budget_ms
            if ckpt is not None:
                dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it

        def _take_write_lock(conn: Any) -> None:
            waited = conn.info.pop(_TURN_WAIT, None)  # the turn was waited for at checkout (_TurnPool)
            if waited is None:
                if conn.info.get(_WRITER):
                    return
                t0 = time.perf_counter()
                # Bounded: a stuck holder in this process degrades to the busy handler instead of hanging this thread.
                if gate.acquire(timeout=write_wait):
                    conn.info[_WRITER] = True
                waited = time.perf_counter() - t0
            # One budget: the busy handler gets only what the turn left (none when it was not granted in time: a
            # holder that is stuck inside SQLite's write lock then fails this writer at once, not write_wait later).
            left = max(0, budget_ms - int(waited * 1000))
            busy = conn.info.get(_BUSY_MS, budget_ms)
            if busy > left or left - busy > _BUSY_SLACK_MS:  # a PRAGMA only after a wait, and to restore the budget
                conn.connection.dbapi_connection.execute(f"PRAGMA busy_timeout={left}")
                conn.info[_BUSY_MS] = left

        def _release(info: dict[str, Any]) -> None:
            if info.pop(_WRITER, False):
                gate.release()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front (BEGIN IMMEDIATE; a deferred writer's snapshot could be stale
            # when it first writes, which fails with SQLITE_BUSY_SNAPSHOT and would need the whole unit of work
            # retried). Read-intent transactions (READS) begin deferred: in WAL mode they read a snapshot and
            # never wait for, or block, a writer.
            deferred = conn.get_execution_options().get(_BEGIN_OPTION) == "DEFERRED"
            conn.info[_DEFERRED] = deferred
            if not deferred:
                _take_write_lock(conn)
            # The BEGIN itself runs in the dialect's do_begin (below), which SQLAlchemy calls next.

        def _do_begin(dbapi_conn: Any) -> None:
            # On the driver's connection rather than as a statement through SQLAlchemy (which cost as much CPU as
            # any statement of a create): SQLAlchemy still wraps its errors (a busy database) as it does a statement's.
            dbapi_conn.execute("BEGIN" if _pool_info(dbapi_conn).get(_DEFERRED) else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "before_cursor_execute")
        def _promote(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            if conn.info.get(_DEFERRED) and _WRITE_RE.match(statement):
                # A read-intent transaction is about to write (e.g. a token's last-used time on a GET): end the
                # read snapshot (nothing to commit) and take the write lock, as a writer would have from the start.
                conn.info[_DEFERRED] = False
                _take_write_lock(conn)
                cursor.execute("COMMIT")
                cursor.execute("BEGIN IMMEDIATE")

        dialect_commit, dialect_rollback = engine.dialect.do_commit, engine.dialect.do_rollback

        def _do_commit(dbapi_conn: Any) -> None:
            # The lock passes on once COMMIT has returned, so the next writer's BEGIN IMMEDIATE never meets this
            # COMMIT in the busy handler; still before the session's after-commit hooks, so a hook that writes
            # again never waits for itself.
            try:
                dialect_commit(dbapi_conn)
            finally:
                _release(_pool_info(dbapi_conn))
            if ckpt is not None:
                ckpt.committed()

        def _do_rollback(dbapi_conn: Any) -> None:
            try:
                dialect_rollback(dbapi_conn)
            finally:
                _release(_pool_info(dbapi_conn))

        engine.dialect.do_begin = _do_begin  # type: ignore[method-assign,assignment]
        engine.dialect.do_commit = _do_commit  # type: ignore[method-assign,assignment]
        engine.dialect.do_rollback = _do_rollback  # type: ignore[method-assign,assignment]

        @event.listens_for(engine, "checkin")
        def _checkin(_dbapi_conn: Any, record: Any) -> None:
            if record is not None:
                _release(record.info)  # a connection returned without commit or rollback (error paths)

        @event.listens_for(engine, "engine_disposed")
        def _disposed(_conn: Any) -> None:
            if ckpt is not None:
                ckpt.stop()
            gate.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # No pre-ping (a SELECT 1 before every checkout): a connection the server dropped fails its statement and is
    # discarded from the pool; pool_recycle retires connections before typical idle timeouts instead.
    # lock_timeout in the startup packet (free: no statement per request or per transaction): a statement waiting
    # for a lock another session holds fails with 55P03 after the write-wait budget instead of waiting forever.
    lock_ms = max(1, int(write_wait * 1000))
    options = f"-c lock_timeout={lock_ms}"
    if statement_timeout > 0:  # the same way, for a runaway query: cancelled (57014) rather than run forever
        options += f" -c statement_timeout={max(1, int(statement_timeout * 1000))}"
    # connect_args replace the URL's own `options` (a search_path, a statement_timeout): keep them, after ours so
    # a lock_timeout or statement_timeout the URL sets itself still wins.
    own = make_url(url).query.get("options")
    if own:
        options = " ".join([options, *([own] if isinstance(own, str) else own)])
    return create_engine(
        url,
        pool_recycle=1800,
        pool_size=10,
        max_overflow=20,
        json_serializer=json_dumps,
        connect_args={"options": options},
    )


_BEGIN_OPTION = "kefu_sqlite_begin"
_DEFERRED = "kefu_sqlite_deferred"
_WRITER = "kefu_sqlite_writer"
_BUSY_MS = "kefu_sqlite_busy_ms"  # the connection's busy_timeout now
_TURN_WAIT = "kefu_sqlite_turn_wait"  # seconds a writer waited for its turn at checkout (_TurnPool)
_INTENT = threading.local()  # `reading`: this thread is checking out a connection for a read-intent engine
_BUSY_SLACK_MS = 250  # a busy timeout this much below the budget is left as it is (no PRAGMA per transaction)
_WRITE_RE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT|CREATE|DROP|ALTER)\b", re.IGNORECASE)
READS = {_BEGIN_OPTION: "DEFERRED"}  # execution options of a read-intent engine (Database.read_sessionmaker)


def read_engine(engine: Engine) -> Engine:
    """`engine` for read-intent transactions (`READS`): on SQLite they begin DEFERRED and wait for no writer's turn."""
    reads = engine.execution_options(**READS)
    if engine.dialect.name == "sqlite":
        checkout = reads.raw_connection

        def raw_connection() -> Any:
            _INTENT.reading = True  # _TurnPool: no writer's turn for this checkout
            try:
                return checkout()
            finally:
                _INTENT.reading = False

        reads.raw_connection = raw_connection  # type: ignore[method-assign]
    return reads


class Database:
    """Engine plus session factory for one configured database."""

    def __init__(
        self, url: str, *, write_wait: float = WRITE_WAIT_SECONDS, statement_timeout: float = STATEMENT_TIMEOUT_SECONDS
    ) -> None:
        self.url = url
        self.engine = make_engine(url, write_wait=write_wait, statement_timeout=statement_timeout)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        # Sessions for requests that only read (GET/HEAD): on SQLite they begin DEFERRED (see make_engine).
        self.read_sessionmaker = sessionmaker(bind=read_engine(self.engine), expire_on_commit=False)
        self.default_sessionmaker = self.sessionmaker
        _READ_TWINS[self.sessionmaker] = self.read_sessionmaker  # reads_of()

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work: commits on success, rolls back on error."""
        return session_scope(self.sessionmaker)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


SessionFactory = Callable[[], Session]
_READ_TWINS: weakref.WeakKeyDictionary[Any, SessionFactory] = weakref.WeakKeyDictionary()

# Per mapped class: the INSERT … RETURNING id built once, and (attribute, column, default) for every other column.
_INSERTS: dict[type[Any], tuple[Insert, tuple[tuple[str, str, Any], ...]]] = {}


def _insert_plan(cls: type[Any]) -> tuple[Insert, tuple[tuple[str, str, Any], ...]]:
    plan = _INSERTS.get(cls)
    if plan is None:
        table = cast(Table, cls.__table__)
        columns = tuple(
            (prop.key, prop.columns[0].key, prop.columns[0].default)
            for prop in inspect(cls).column_attrs
            if prop.key != "id"
        )
        plan = _INSERTS[cls] = (insert(table).returning(table.c.id), columns)
    return plan


# ---- prebuilt statements on the driver's cursor (the create path's fixed statements) ----

# Per dialect, per prebuilt statement and parameter names: the SQL text, its bind names in the driver's order, the
# literal binds' values and the type processors (or None: the statement needs Connection.execute's full path).
_LeanPlan = tuple[str, tuple[str, ...], dict[str, Any], dict[str, Callable[[Any], Any]]]
_LEAN: weakref.WeakKeyDictionary[Any, dict[tuple[int, tuple[str, ...]], tuple[Any, _LeanPlan | None]]] = (
    weakref.WeakKeyDictionary()
)


def _lean_plan(dialect: Any, stmt: Any, keys: tuple[str, ...]) -> _LeanPlan | None:
    plans = _LEAN.get(dialect)
    if plans is None:
        plans = _LEAN[dialect] = {}
    entry = plans.get((id(stmt), keys))
    if entry is None:
        compiled: Any = stmt.compile(dialect=dialect, column_keys=list(keys))
        plan: _LeanPlan | None = None
        # Anything the execution context would add or rewrite (Python-side defaults or onupdate values, expanding or
        # literal-execute binds, escaped or callable binds, several uses of one name) keeps the full path.
        if not (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.escaped_bind_names
            or any(b.callable is not None for b in compiled.binds.values())
        ):
            defaults = compiled.construct_params(_check=False)
            names = tuple(compiled.positiontup) if compiled.positional else tuple(defaults)
            if set(keys) <= set(defaults) and len(set(names)) == len(names):
                plan = (compiled.string, names, defaults, dict(compiled._bind_processors))
        if len(plans) >= 512:  # meant for module-level statements: one built per call must not grow this forever
            plans.clear()
        entry = plans[(id(stmt), keys)] = (stmt, plan)  # the statement is kept: its id stays its own
    return entry[1]


def run_prebuilt(conn: Connection, stmt: Any, params: dict[str, Any] | None = None) -> tuple[Sequence[Any], int]:
    """A prebuilt Core statement run once, through SQLAlchemy's cursor path: (its rows as driver tuples, rowcount)."""
    # For hot paths' fixed statements: Connection.execute spends about three times the driver's own work per statement
    # on execution-context and result setup. The statement is compiled once per dialect and run by
    # Connection._cursor_execute, which keeps what matters: the cursor events (statement counts, the text rule,
    # SQLite's write promotion), the dialect's bind processors, and the same exception wrapping (IntegrityError, a
    # lost connection invalidating the pool). Statements it could not reproduce exactly (Python-side defaults or
    # onupdate values, expanding binds …), or a connection outside a transaction, take Connection.execute.
    keys = tuple(params) if params else ()
    plan = _lean_plan(conn.dialect, stmt, keys) if _CURSOR_EXECUTE and conn.in_transaction() else None
    if plan is None:
        result = conn.execute(stmt, params or {})
        rows = [tuple(row) for row in result] if result.returns_rows else []
        return rows, result.rowcount
    sql, names, defaults, processors = plan
    values = {**defaults, **params} if params else defaults
    ordered = [processors[n](values[n]) if n in processors else values[n] for n in names]
    args: Any = (
        conn.dialect.execute_sequence_format(ordered)
        if conn.dialect.positional
        else dict(zip(names, ordered, strict=True))
    )
    cursor = conn.connection.cursor()
    try:
        conn._cursor_execute(cursor, sql, args)
        fetched: Any = cursor.fetchall() if cursor.description is not None else []
        return fetched, cursor.rowcount
    finally:
        cursor.close()


# SQLAlchemy's cursor path (private, in every 2.x release): without it run_prebuilt takes the full path.
_CURSOR_EXECUTE = callable(getattr(Connection, "_cursor_execute", None))


def _opens_transaction(driver: Any) -> bool:
    """True when `driver` is a psycopg connection that would send its own BEGIN before the next statement."""
    # psycopg sends BEGIN as a round trip of its own before the first statement on an idle, non-autocommit
    # connection. Its `_autocommit` and `_pipeline` attributes are private (every psycopg 3 release): without
    # them the read takes the ordinary path.
    info = getattr(driver, "info", None)
    return (
        info is not None
        and getattr(driver, "_autocommit", None) is False
        and getattr(driver, "_pipeline", True) is None
        and info.transaction_status == 0  # libpq's PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE)
    )


def run_first_read(conn: Connection, stmt: Any) -> Sequence[Any]:
    """A parameterless prebuilt read (run_prebuilt) whose rows open the transaction; on PostgreSQL with its BEGIN.

    psycopg opens a transaction with a BEGIN round trip of its own before the first statement. When this read is
    that first statement, it goes as one simple-protocol query `<read>; BEGIN` instead — one round trip, the
    same rows, the connection then in the transaction psycopg would have opened (PostgreSQL's default isolation,
    READ COMMITTED, gives every statement its own snapshot, so the read is no older than it was inside it). On
    any other connection, or after the transaction began, it is run_prebuilt's read.
    """
    driver = conn.connection.driver_connection if conn.dialect.name == "postgresql" else None
    plan = _lean_plan(conn.dialect, stmt, ()) if driver is not None and _CURSOR_EXECUTE else None
    if plan is None or plan[1] or not conn.in_transaction() or not _opens_transaction(driver):
        return run_prebuilt(conn, stmt)[0]
    assert driver is not None
    driver.autocommit = True  # psycopg checks the connection is idle; it then sends no BEGIN of its own
    try:
        cursor = conn.connection.cursor()
        try:
            # No parameters: psycopg sends it with the simple query protocol, which runs both statements.
            conn._cursor_execute(cursor, plan[0] + "; BEGIN", {})
            rows: Sequence[Any] = cursor.fetchall()  # the first result (the read's) is the cursor's
        finally:
            cursor.close()
    finally:
        # Inside the transaction now (or idle, if the read failed): the public setter refuses to switch back
        # while a transaction is open, so the private flag is reset, as psycopg's own BEGIN would have left it.
        driver._autocommit = False
    return rows


# Per mapped class: its class manager, @validates hooks by attribute and column attribute names, or None when an
# attribute has other set listeners (new_row then falls back to the constructor, whose events it could not reproduce).
_ROWS: dict[type[Any], tuple[Any, dict[str, Any], frozenset[str]] | None] = {}


def _row_plan(cls: type[Any]) -> tuple[Any, dict[str, Any], frozenset[str]] | None:
    if cls not in _ROWS:
        mapper = inspect(cls)
        manager = mapper.class_manager
        validators = {key: fn for key, (fn, _options) in mapper.validators.items()}
        plain = all(len(manager[key].dispatch.set) == (1 if key in validators else 0) for key in manager)
        columns = frozenset(prop.key for prop in mapper.column_attrs)
        _ROWS[cls] = (manager, validators, columns) if plain and not manager.dispatch.init_failure else None
    return _ROWS[cls]


def loaded_values(obj: Any, names: tuple[str, ...]) -> dict[str, Any] | None:
    """`names`' current values when every one is loaded on the ORM object (read from its state, no attribute events),
    else None (something would load first: read the attributes instead)."""
    state = obj.__dict__
    for name in names:
        if name not in state:
            return None
    return {name: state[name] for name in names}


def new_row(cls: type[M], values: dict[str, Any]) -> M:
    """`cls(**values)` for a new row's column values, without the per-attribute events of the constructor.

    The instance is transient with `values` as its state, as after the constructor (init hooks and @validates run;
    anything but column attributes goes through the constructor): setting each attribute through the ORM's
    instrumentation cost more CPU on a create than the INSERT it feeds. For objects handed to insert_now or kept
    transient until they are inserted.
    """
    plan = _row_plan(cls)
    if plan is None or not plan[2].issuperset(values):
        return cls(**values)  # relationships, unknown names (its TypeError) or listeners: the constructor's way
    manager, validators, _columns = plan
    obj: M = manager.new_instance()
    manager.dispatch.init(obj._sa_instance_state, (), values)  # type: ignore[attr-defined]
    if validators:
        values = {k: validators[k](obj, k, v) if k in validators else v for k, v in values.items()}
    obj.__dict__.update(values)
    return obj


class ComputedInsert:
    """A model's INSERT with some columns computed by SQL in the statement itself (built once, at module level).

    `insert_now(session, obj, computed)` binds every other column from the object and reads the computed ones back
    with the id (RETURNING): a value the database makes (a sequence's next number) costs no statement of its own.
    """

    def __init__(self, cls: type[Any], **sql: Any) -> None:
        table = cast(Table, cls.__table__)
        attrs = {prop.columns[0].key: prop.key for prop in inspect(cls).column_attrs}
        self.cls, self.sql = cls, sql
        self.attrs = tuple(attrs[column] for column in sql)
        self.stmt = insert(table).values(**sql).returning(table.c.id, *(table.c[column] for column in sql))


class InsertWithChild:
    """A ComputedInsert's row and one child row that references it, as one statement (PostgreSQL; built once).

    `WITH parent AS (INSERT … RETURNING id, …), child AS (INSERT … SELECT parent.id, … FROM parent RETURNING id)
    SELECT …`: PostgreSQL runs each data-modifying WITH exactly once and the child's INSERT reads the parent's new id
    from it, so the pair costs one round trip instead of two; both rows or neither, as in one transaction anyway.
    Binds: `p_<column>` for the parent's columns, `c_<column>` for the child's, and the computed columns' own.
    """

    def __init__(self, parent: ComputedInsert, child: type[Any], fk: str) -> None:
        ptable, ctable = cast(Table, parent.cls.__table__), cast(Table, child.__table__)
        pcols = [c for c in ptable.c if c.key != "id" and c.key not in parent.sql]
        ccols = [c for c in ctable.c if c.key not in ("id", fk)]
        made = (
            insert(ptable)
            .values({**{c: bindparam(f"p_{c.key}", type_=c.type) for c in pcols}, **parent.sql})
            .returning(ptable.c.id, *(ptable.c[column] for column in parent.sql))
        )
        top = made.cte("parent")
        source = select(top.c.id, *(bindparam(f"c_{c.key}", type_=c.type) for c in ccols))
        linked = insert(ctable).from_select([ctable.c[fk], *ccols], source).returning(ctable.c.id).cte("child")
        self.parent, self.child, self.fk = parent, child, fk
        self.parent_plan = _insert_plan(parent.cls)[1]
        self.child_plan = _insert_plan(child)[1]
        self.stmt = select(top.c.id, *(top.c[column] for column in parent.sql), linked.c.id)


def insert_now(
    session: Session, obj: Base, computed: ComputedInsert | None = None, binds: dict[str, Any] | None = None
) -> None:
    """INSERT one new object now, with a statement built once, and make it persistent in the session (no flush).

    For hot paths where the unit of work's per-flush cost exceeds the statement's: every column is set on the
    object (unset ones to their default, callables called as the ORM would), so nothing is loaded again, and later
    changes to it are tracked and flushed as an UPDATE. Flush hooks (before_flush, mapper insert events) do not run
    for it: use it only for a model none of them concerns, or do their work first (kefu.tickets.creation does).
    With `computed` (same model) its columns come from the statement's SQL, which `binds` parameterise, and are
    read back into the object.
    """
    stmt, columns = _insert_plan(type(obj))
    skip: tuple[str, ...] = ()
    if computed is not None:
        stmt, skip = computed.stmt, computed.attrs
    values = _column_values(session, obj, columns, skip, "")
    if binds:
        values.update(binds)
    rows, _count = run_prebuilt(session.connection(), stmt, values)
    state = obj.__dict__
    state["id"], *made = rows[0]
    state.update(zip(skip, made, strict=True))
    _loaded(session, obj)


def insert_with_child_now(
    session: Session, obj: Base, child: Base, pair: InsertWithChild, binds: dict[str, Any] | None = None
) -> None:
    """insert_now for `obj` (with `pair.parent`'s computed columns) and a new child row of it, in one statement.

    The child's foreign key (`pair.fk`) is the parent's new id; both objects end persistent, as after insert_now.
    """
    skip = pair.parent.attrs
    values = _column_values(session, obj, pair.parent_plan, skip, "p_")
    values.update(_column_values(session, child, pair.child_plan, (pair.fk,), "c_"))
    if binds:
        values.update(binds)
    rows, _count = run_prebuilt(session.connection(), pair.stmt, values)
    parent_id, *made, child_id = rows[0]
    obj.__dict__["id"] = parent_id
    obj.__dict__.update(zip(skip, made, strict=True))
    child.__dict__.update({"id": child_id, pair.fk: parent_id})
    _loaded(session, obj)
    _loaded(session, child)


def _column_values(
    session: Session, obj: Base, columns: tuple[tuple[str, str, Any], ...], skip: tuple[str, ...], prefix: str
) -> dict[str, Any]:
    """A new object's column values as binds (unset ones set to their default first, as the ORM would)."""
    if obj in session:
        session.expunge(obj)  # added but not flushed: this INSERT replaces the flush's
    state = obj.__dict__
    values = {}
    for attr, column, default in columns:
        if attr in skip:
            continue
        if attr not in state:
            setattr(obj, attr, None if default is None else default.arg(None) if default.is_callable else default.arg)
        values[prefix + column] = state[attr]
    return values


def _loaded(session: Session, obj: Base) -> None:
    # The values went into the state directly (the object is transient): make every one its loaded state.
    make_transient_to_detached(obj)  # as if loaded: no pending INSERT, no history, nothing expired
    attach_loaded(session, obj)


# Per mapped class: its relationships' keys (Session.add's save-update cascade can only reach objects held by them).
_RELATIONSHIPS: dict[type[Any], frozenset[str]] = {}


def attach_loaded(session: Session, obj: Any) -> None:
    """`session.add(obj)` for a detached object fresh from make_transient_to_detached: persistent in the session."""
    cls = type(obj)
    keys = _RELATIONSHIPS.get(cls)
    if keys is None:
        keys = _RELATIONSHIPS[cls] = frozenset(r.key for r in inspect(cls).relationships)
    state = obj._sa_instance_state
    # What add() does, without its cascade walk over every relationship of the mapper (CPU on every create): with
    # none of them in the object's state (nothing loaded, nothing assigned, no pending collection change) the walk
    # finds nothing to add. Otherwise, or where add() would warn (inside a flush), add() itself.
    fresh = keys.isdisjoint(obj.__dict__) and "_pending_mutations" not in state.__dict__
    if _UPDATE_IMPL and fresh and not session._warn_on_events:
        state._orphaned_outside_of_session = False
        session._update_impl(state)
        return
    session.add(obj)


# Session._update_impl (private, in every 2.x release): without it attach_loaded is session.add.
_UPDATE_IMPL = callable(getattr(Session, "_update_impl", None))


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """Unit of work from any session factory: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
    except BaseException:
        finish_session(session, False)
        raise
    finish_session(session, True)


def finish_session(session: Session, commit: bool) -> None:
    """End a unit of work: commit (or roll back) and close; a failed commit rolls back before it raises."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        if commit:
            session.rollback()
        raise
    finally:
        session.close()


def database_for(settings: Settings) -> Database:
    """The Database of `settings` (its URL, write wait and statement timeout): one place reads the KEFU_DB_* knobs."""
    return Database(
        settings.database_url,
        write_wait=settings.db_write_wait_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )


DATABASE: runtime.Slot[Database] = runtime.Slot("database", database_for)


def get_database() -> Database:
    """The process's Database (the wired one, else built for the environment's settings on first use)."""
    return runtime.get(DATABASE)


def reads_of(factory: SessionFactory | None) -> SessionFactory:
    """Sessions for a pure read: a Database's read twin for its own factory, or the process database's for None (on
    SQLite a deferred transaction, which takes no write turn); any other factory (a test's) as given."""
    if factory is None:
        return get_database().read_sessionmaker
    return _READ_TWINS.get(factory, factory)


# ---- after-commit hooks: events, job wake-ups and channel sends happen only after the real commit ----
#
# SQLAlchemy fires `after_commit` for a released SAVEPOINT too, so hooks are tagged with the (innermost)
# transaction they were registered in: they run only when the outermost transaction commits, and a rollback of
# any transaction (a savepoint included) discards the hooks registered inside it and inside its children.

AfterCommit = Callable[[], None]
_HOOKS = "kefu_after_commit"
_UNDO = "kefu_on_rollback"


def after_commit(session: Session, fn: AfterCommit) -> None:
    """Run fn once the session's outermost transaction has committed (dropped on any enclosing rollback)."""
    if not session.in_transaction():
        session.begin()  # so a rollback before any SQL still discards the hook
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_HOOKS, []).append((tx, fn))


def on_rollback(session: Session, fn: AfterCommit) -> None:
    """Run fn if the current (innermost) transaction is rolled back, e.g. delete a file written for it; forgotten
    once the outermost transaction commits."""
    if not session.in_transaction():
        session.begin()
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_UNDO, []).append((tx, fn))


def pending_after_commit(session: Session) -> int:
    """How many hooks wait for the outermost commit (tests)."""
    return len(session.info.get(_HOOKS, []))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: the work is not durable until the outermost COMMIT
    session.info.pop(_UNDO, None)
    hooks: list[tuple[Any, AfterCommit]] = session.info.pop(_HOOKS, [])
    for _tx, fn in hooks:
        try:
            fn()
        except Exception:  # a failing hook must not break the committed request
            import logging

            logging.getLogger("kefu.db").exception("after-commit hook failed")


def _descends_from(tx: Any, ancestor: Any) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _run_on_rollback(session: Session, previous_transaction: Any) -> None:
    undo: list[tuple[Any, AfterCommit]] | None = session.info.get(_UNDO)
    if not undo:
        return
    whole = previous_transaction.parent is None
    done = [fn for tx, fn in undo if whole or _descends_from(tx, previous_transaction)]
    session.info[_UNDO] = [] if whole else [(tx, fn) for tx, fn in undo if not _descends_from(tx, previous_transaction)]
    for fn in done:
        try:
            fn()
        except Exception:  # the rollback itself stands; a failed clean-up is only logged
            logging.getLogger("kefu.db").exception("on-rollback hook failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    hooks: list[tuple[Any, AfterCommit]] | None = session.info.get(_HOOKS)
    if not hooks:
        return
    if previous_transaction.parent is None:
        session.info.pop(_HOOKS, None)
        return
    kept = [(tx, fn) for tx, fn in hooks if not _descends_from(tx, previous_transaction)]
    session.info[_HOOKS] = kept
