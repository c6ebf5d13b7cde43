"""Database engine, session factory, declarative base and after-commit hooks."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from kefu.core import runtime

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
    # WAL lets readers proceed during writes; NORMAL is durable across app crashes in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """Create an engine with kefu's per-backend tuning."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15},
            poolclass=None if pool else NullPool,
            json_serializer=_json_dumps,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # kefu emits BEGIN itself (below)

        # Writers of this process queue on a lock instead of polling in SQLite's busy handler, which sleeps up to
        # 100 ms between tries: with dozens of waiting threads the unlucky ones waited seconds. Only the writer
        # holding it asks SQLite for the write lock; writers of other processes still meet in the busy handler.
        writers = threading.Lock()

        def _take_write_lock(conn: Any) -> None:
            # Bounded: a stuck holder degrades to the busy handler instead of hanging this thread.
            if not conn.info.get(_WRITER) and writers.acquire(timeout=30):
                conn.info[_WRITER] = True

        def _release(info: dict[str, Any]) -> None:
            if info.pop(_WRITER, False):
                writers.release()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front (BEGIN IMMEDIATE waits in the busy handler; a deferred writer
            # would fail with SQLITE_BUSY when upgrading). Read-intent transactions (READS) begin deferred: in WAL
            # mode they read a snapshot and never wait for, or block, a writer.
            deferred = conn.get_execution_options().get(_BEGIN_OPTION) == "DEFERRED"
            conn.info[_DEFERRED] = deferred
            if not deferred:
                _take_write_lock(conn)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "before_cursor_execute")
        def _promote(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            if conn.info.get(_DEFERRED) and _WRITE_RE.match(statement):
                # A read-intent transaction is about to write (e.g. a token's last-used time on a GET): end the
                # read snapshot (nothing to commit) and take the write lock, as a writer would have from the start.
                conn.info[_DEFERRED] = False
                _take_write_lock(conn)
                cursor.execute("COMMIT")
                cursor.execute("BEGIN IMMEDIATE")

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn: Any) -> None:
            # Released just before COMMIT/ROLLBACK runs, so a thread that writes again from an after-commit hook
            # never waits for itself; the next writer may meet the busy handler for the instant the COMMIT takes.
            _release(conn.info)

        @event.listens_for(engine, "checkin")
        def _checkin(_dbapi_conn: Any, record: Any) -> None:
            if record is not None:
                _release(record.info)  # a connection returned without commit or rollback (error paths)

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # No pre-ping (a SELECT 1 before every checkout): a connection the server dropped fails its statement and is
    # discarded from the pool; pool_recycle retires connections before typical idle timeouts instead.
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=20, json_serializer=_json_dumps)


_BEGIN_OPTION = "kefu_sqlite_begin"
_DEFERRED = "kefu_sqlite_deferred"
_WRITER = "kefu_sqlite_writer"
_WRITE_RE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT|CREATE|DROP|ALTER)\b", re.IGNORECASE)
READS = {_BEGIN_OPTION: "DEFERRED"}  # execution options of a read-intent engine (Database.read_sessionmaker)


def _json_dumps(obj: Any) -> str:
    # Keep CJK readable in stored JSON so LIKE searches over JSON text match what people type.
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


class Database:
    """Engine plus session factory for one configured database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        # Sessions for requests that only read (GET/HEAD): on SQLite they begin DEFERRED (see make_engine).
        self.read_sessionmaker = sessionmaker(bind=self.engine.execution_options(**READS), expire_on_commit=False)
        self.default_sessionmaker = self.sessionmaker

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work: commits on success, rolls back on error."""
        return session_scope(self.sessionmaker)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


SessionFactory = Callable[[], Session]


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


DATABASE: runtime.Slot[Database] = runtime.Slot("database", lambda settings: Database(settings.database_url))


def get_database() -> Database:
    """The process's Database (the wired one, else built for the environment's settings on first use)."""
    return runtime.get(DATABASE)


# ---- after-commit hooks: events, job wake-ups and channel sends happen only after the real commit ----
#
# SQLAlchemy fires `after_commit` for a released SAVEPOINT too, so hooks are tagged with the (innermost)
# transaction they were registered in: they run only when the outermost transaction commits, and a rollback of
# any transaction (a savepoint included) discards the hooks registered inside it and inside its children.

AfterCommit = Callable[[], None]
_HOOKS = "kefu_after_commit"


def after_commit(session: Session, fn: AfterCommit) -> None:
    """Run fn once the session's outermost transaction has committed (dropped on any enclosing rollback)."""
    if not session.in_transaction():
        session.begin()  # so a rollback before any SQL still discards the hook
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_HOOKS, []).append((tx, fn))


def pending_after_commit(session: Session) -> int:
    """How many hooks wait for the outermost commit (tests)."""
    return len(session.info.get(_HOOKS, []))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: the work is not durable until the outermost COMMIT
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
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    hooks: list[tuple[Any, AfterCommit]] | None = session.info.get(_HOOKS)
    if not hooks:
        return
    if previous_transaction.parent is None:
        session.info.pop(_HOOKS, None)
        return
    kept = [(tx, fn) for tx, fn in hooks if not _descends_from(tx, previous_transaction)]
    session.info[_HOOKS] = kept
