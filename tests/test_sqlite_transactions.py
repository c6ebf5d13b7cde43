"""SQLite transactions: reads begin DEFERRED and never wait; writers queue on a gate, then BEGIN IMMEDIATE."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import text


def _database(tmp_path: Any) -> Any:
    from kefu.core.db import Database

    database = Database(f"sqlite:///{tmp_path / 'tx.db'}")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    return database


def test_a_read_does_not_wait_while_a_writer_holds_the_lock(tmp_path: Any) -> None:
    database = _database(tmp_path)
    writer = database.sessionmaker()
    writer.execute(text("UPDATE t SET v = v + 1"))  # BEGIN IMMEDIATE: the write lock is held until commit
    t0 = time.perf_counter()
    with database.read_sessionmaker() as reader:
        assert reader.execute(text("SELECT v FROM t")).scalar_one() == 0  # the last committed snapshot
    assert time.perf_counter() - t0 < 1.0  # not the 15 s busy timeout
    writer.commit()
    writer.close()
    database.dispose()


def test_a_read_that_turns_into_a_write_takes_the_lock_and_loses_nothing(tmp_path: Any) -> None:
    database = _database(tmp_path)
    reader = database.read_sessionmaker()
    assert reader.execute(text("SELECT v FROM t")).scalar_one() == 0
    with database.sessionmaker() as other:  # another writer commits after the reader's snapshot
        other.execute(text("UPDATE t SET v = v + 1"))
        other.commit()
    reader.execute(text("UPDATE t SET v = v + 10"))  # promoted to BEGIN IMMEDIATE: no SQLITE_BUSY_SNAPSHOT
    reader.commit()
    reader.close()
    with database.read_sessionmaker() as check:
        assert check.execute(text("SELECT v FROM t")).scalar_one() == 11
    database.dispose()


def test_concurrent_writers_and_readers_all_succeed(tmp_path: Any) -> None:
    database = _database(tmp_path)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(20):
                with database.sessionmaker() as s:
                    s.execute(text("UPDATE t SET v = v + 1"))
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read_then_write() -> None:
        try:
            for _ in range(20):
                with database.read_sessionmaker() as s:
                    s.execute(text("SELECT v FROM t")).scalar_one()
                    s.execute(text("UPDATE t SET v = v + 1"))
                    s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (write, write, read_then_write, read_then_write)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 80
    database.dispose()


def _no_busy_wait(database: Any) -> None:
    """busy_timeout=0: two writers that meet inside SQLite fail at once with "database is locked"."""
    from sqlalchemy import event

    database.engine.dispose()

    @event.listens_for(database.engine, "connect")
    def _impatient(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")


def _hammer(databases: list[Any], threads_each: int, writes: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(database: Any, n: int) -> None:
        try:
            for i in range(writes):
                if (n + i) % 3 == 0:
                    with database.read_sessionmaker() as s:  # reads mixed in; some turn into writes
                        s.execute(text("SELECT v FROM t")).scalar_one()
                        s.execute(text("UPDATE t SET v = v + 1"))
                        s.commit()
                else:
                    with database.sessionmaker() as s:
                        s.execute(text("SELECT v FROM t")).scalar_one()
                        s.execute(text("UPDATE t SET v = v + 1"))
                        s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(db, n)) for db in databases for n in range(threads_each)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def test_many_writer_threads_never_meet_in_sqlites_busy_handler(tmp_path: Any) -> None:
    database = _database(tmp_path)
    _no_busy_wait(database)  # without the writer gate the first collision would raise "database is locked"
    errors = _hammer([database], threads_each=16, writes=15)
    assert not errors, errors[:3]
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 16 * 15
    database.dispose()


def test_writers_of_two_engines_on_one_file_take_turns_on_the_file_lock(tmp_path: Any) -> None:
    from kefu.core.db import Database

    first = _database(tmp_path)
    second = Database(first.url)  # its own gate: like another server process (flock is per open file)
    for database in (first, second):
        _no_busy_wait(database)
    errors = _hammer([first, second], threads_each=6, writes=15)
    assert not errors, errors[:3]
    with first.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 2 * 6 * 15
    first.dispose()
    second.dispose()


def test_writers_get_their_turn_in_arrival_order(tmp_path: Any) -> None:
    from kefu.core.db import WriterGate

    gate = WriterGate(str(tmp_path / "fifo-writer"))
    assert gate.acquire(timeout=5)
    order: list[int] = []
    threads = []
    for n in range(8):
        th = threading.Thread(target=lambda n=n: (gate.acquire(timeout=30), order.append(n), gate.release()))
        th.start()
        threads.append(th)
        deadline = time.monotonic() + 10
        while gate.queued() < n + 1 and time.monotonic() < deadline:  # enqueued before the next one starts
            time.sleep(0.001)
    gate.release()
    for th in threads:
        th.join()
    assert order == list(range(8))
    assert gate.waits == 8
    gate.close()


def test_a_writer_gate_wait_that_times_out_leaves_the_queue(tmp_path: Any) -> None:
    from kefu.core.db import WriterGate

    gate = WriterGate(None)
    assert gate.acquire(timeout=1)
    assert not gate.acquire(timeout=0.05)  # nobody released: the caller falls back to SQLite's busy handler
    assert gate.queued() == 0
    gate.release()
    assert gate.acquire(timeout=1)
    gate.release()


def test_a_rolled_back_writer_hands_the_lock_on(tmp_path: Any) -> None:
    from kefu.core.db import session_scope, writer_gate

    database = _database(tmp_path)
    try:
        with session_scope(database.sessionmaker) as s:
            s.execute(text("UPDATE t SET v = 5"))
            raise RuntimeError("handler failed")
    except RuntimeError:
        pass
    done = threading.Event()

    def write() -> None:
        with session_scope(database.sessionmaker) as s:
            s.execute(text("UPDATE t SET v = v + 1"))
        done.set()

    th = threading.Thread(target=write)
    th.start()
    th.join(timeout=20)
    assert done.is_set()
    gate = writer_gate(database.engine)
    assert gate is not None and gate.queued() == 0
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 1
    database.dispose()


def test_an_after_commit_hook_may_write_again(tmp_path: Any) -> None:
    from kefu.core.db import after_commit, session_scope

    database = _database(tmp_path)

    def again() -> None:  # runs on the same thread once the first COMMIT returned: the lock is already passed on
        with session_scope(database.sessionmaker) as s2:
            s2.execute(text("UPDATE t SET v = v + 100"))

    with session_scope(database.sessionmaker) as s:
        s.execute(text("UPDATE t SET v = v + 1"))
        after_commit(s, again)
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 101
    database.dispose()


def test_checkpoints_run_in_the_background_not_in_commits(tmp_path: Any) -> None:
    from kefu.core.db import checkpointer, session_scope

    database = _database(tmp_path)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0  # commits never checkpoint
        conn.rollback()
    ckpt = checkpointer(database.engine)
    assert ckpt is not None
    for _ in range(20):
        with session_scope(database.sessionmaker) as s:
            s.execute(text("UPDATE t SET v = v + 1"))
    deadline = time.monotonic() + 20
    while ckpt.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ckpt.runs >= 1
    database.dispose()  # stops the thread
    assert not [th for th in threading.enumerate() if th.name == "kefu-sqlite-checkpoint"]


def test_a_dropped_engine_leaves_no_checkpoint_thread(tmp_path: Any) -> None:
    import gc

    from kefu.core.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'dropped.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))  # a commit starts the checkpoint thread
    before = sum(th.name == "kefu-sqlite-checkpoint" for th in threading.enumerate())
    assert before >= 1
    del engine, conn
    gc.collect()
    assert sum(th.name == "kefu-sqlite-checkpoint" for th in threading.enumerate()) == before - 1


def test_a_process_stuck_on_the_file_lock_costs_a_bounded_wait_not_a_hang(tmp_path: Any) -> None:
    import fcntl
    import os
    import time

    from kefu.core.db import WriterGate

    path = str(tmp_path / "stuck-writer")
    other = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # another open file description: another "process"
    fcntl.flock(other, fcntl.LOCK_EX)
    gate = WriterGate(path)
    t0 = time.perf_counter()
    assert gate.acquire(timeout=0.3)  # the turn is ours; SQLite's busy handler decides the rest
    assert 0.25 <= time.perf_counter() - t0 < 5
    gate.release()  # must not unlock what it never held
    fcntl.flock(other, fcntl.LOCK_UN)
    assert gate.acquire(timeout=0.3)  # and the file lock works again once the other side lets go
    try:
        probe = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("the gate holds the file lock, another taker must fail")
            except BlockingIOError:
                pass
        finally:
            os.close(probe)
    finally:
        gate.release()
        gate.close()
        os.close(other)


def test_a_channel_sweep_that_finds_nothing_takes_no_write_turn(tmp_path: Any) -> None:
    """The sweep's look for overdue inbound events and due outbox rows is a read (kefu.core.db.reads_of)."""
    from kefu.channels.jobs import sweep
    from kefu.core import runtime
    from kefu.core.db import DATABASE, Database, writer_gate
    from tests.conftest import migrated_sqlite

    url = migrated_sqlite(tmp_path / "sweep.db")
    database = Database(url)
    gate = writer_gate(database.engine)
    assert gate is not None
    try:
        with runtime.override(DATABASE, database):
            turns = gate.acquired
            assert sweep() == {"inbound": 0, "outbox": 0}
            assert gate.acquired == turns, "a sweep with nothing to do took the SQLite write turn"
    finally:
        database.dispose()


def _stuck_writer_elsewhere(path: str) -> tuple[Any, int]:
    """Another "process" holding both the writers' file lock and SQLite's write lock (a stuck kefu writer)."""
    import fcntl
    import os
    import sqlite3

    fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600)  # another open file description: another process
    fcntl.flock(fd, fcntl.LOCK_EX)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other, fd


def test_a_writer_waits_one_budget_for_the_gate_and_the_busy_handler_together(tmp_path: Any) -> None:
    """The file-lock wait and SQLite's busy handler share write_wait: a stuck writer costs budget, not twice it."""
    import os

    from sqlalchemy.exc import OperationalError

    from kefu.core.db import Database, session_scope

    _database(tmp_path).dispose()
    path = str(tmp_path / "tx.db")
    database = Database(f"sqlite:///{path}", write_wait=1.0)
    other, fd = _stuck_writer_elsewhere(path)
    try:
        t0 = time.perf_counter()
        try:
            with session_scope(database.sessionmaker) as s:
                s.execute(text("UPDATE t SET v = 99"))
            raise AssertionError("the write went through a held write lock")
        except OperationalError as exc:
            assert "locked" in str(exc)
        waited = time.perf_counter() - t0
        assert 0.9 <= waited < 1.5, waited  # the old code waited the gate's deadline and then the busy timeout
    finally:
        other.rollback()
        other.close()
        os.close(fd)
    with session_scope(database.sessionmaker) as s:  # the budget is back in full for the next writer
        s.execute(text("UPDATE t SET v = v + 1"))
        assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 1000
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 1  # nothing of the failed write
    database.dispose()


def test_a_writer_queued_behind_a_stuck_thread_fails_within_the_budget(tmp_path: Any) -> None:
    """This process's queue is part of the budget too: no busy-handler wait after a turn that never came."""
    from sqlalchemy.exc import OperationalError

    from kefu.core.db import Database, session_scope

    _database(tmp_path).dispose()
    database = Database(f"sqlite:///{tmp_path / 'tx.db'}", write_wait=1.0)
    stuck = database.sessionmaker()
    stuck.execute(text("UPDATE t SET v = 7"))  # holds the turn, the file lock and SQLite's write lock
    outcome: list[Any] = []

    def write() -> None:
        t0 = time.perf_counter()
        try:
            with session_scope(database.sessionmaker) as s:
                s.execute(text("UPDATE t SET v = 8"))
            outcome.append("written")
        except OperationalError:
            outcome.append(time.perf_counter() - t0)

    th = threading.Thread(target=write)
    th.start()
    th.join(timeout=10)
    stuck.rollback()
    stuck.close()
    assert len(outcome) == 1 and outcome[0] != "written", outcome
    assert 0.9 <= outcome[0] < 1.5, outcome
    with session_scope(database.sessionmaker) as s:
        s.execute(text("UPDATE t SET v = v + 1"))
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 1
    database.dispose()


def test_queued_writers_follow_each_other_on_one_connection(tmp_path: Any) -> None:
    """The turn comes before the checkout: queued writers hold no connection, and take the one just returned.

    A connection another one wrote behind has its page cache emptied by SQLite; with the turn taken at BEGIN every
    queued writer held its own pooled connection (and overflow ones were opened), so each re-read its pages.
    """
    from sqlalchemy import event

    from kefu.core.db import session_scope

    database = _database(tmp_path)
    used: list[int] = []
    opened = [0]
    event.listen(database.engine.pool, "connect", lambda *_: opened.__setitem__(0, opened[0] + 1))
    holder = database.sessionmaker()
    holder.execute(text("UPDATE t SET v = v + 1"))  # holds the turn while eight writers queue
    start = threading.Barrier(9)

    def write() -> None:
        start.wait()
        with session_scope(database.sessionmaker) as s:
            s.execute(text("UPDATE t SET v = v + 1"))
            used.append(id(s.connection().connection.dbapi_connection))
            time.sleep(0.005)  # the next writer is queued by now, not served by an idle connection

    threads = [threading.Thread(target=write) for _ in range(8)]
    for th in threads:
        th.start()
    start.wait()
    time.sleep(0.2)  # all eight are waiting for the turn
    holder.commit()
    holder.close()
    for th in threads:
        th.join(timeout=20)
    assert len(used) == 8
    assert len(set(used)) <= 2, len(set(used))  # was 8: one connection per queued writer
    assert opened[0] <= 2, opened[0]  # was 9 (pool_size 5 + overflow, each opened and its schema read)
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 9
    database.dispose()


def test_a_read_checkout_waits_for_no_writer_turn(tmp_path: Any) -> None:
    """Read-intent sessions get a connection while writers queue for the turn (they take no turn)."""
    database = _database(tmp_path)
    holder = database.sessionmaker()
    holder.execute(text("UPDATE t SET v = v + 1"))
    queued = threading.Thread(target=lambda: _write_once(database))
    queued.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    with database.read_sessionmaker() as reader:
        assert reader.execute(text("SELECT v FROM t")).scalar_one() == 0
    assert time.perf_counter() - t0 < 1.0
    holder.commit()
    holder.close()
    queued.join(timeout=20)
    with database.read_sessionmaker() as s:
        assert s.execute(text("SELECT v FROM t")).scalar_one() == 2
    database.dispose()


def _write_once(database: Any) -> None:
    from kefu.core.db import session_scope

    with session_scope(database.sessionmaker) as s:
        s.execute(text("UPDATE t SET v = v + 1"))
