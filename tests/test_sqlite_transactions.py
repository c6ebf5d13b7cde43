"""SQLite transactions: requests that only read begin DEFERRED (never wait for a writer); writers BEGIN IMMEDIATE."""

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
