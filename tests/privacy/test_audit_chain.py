"""The audit log is hash-chained: modification, deletion, reordering and truncation are detected."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from sqlalchemy import select, text


def _entries(db: Any, n: int = 4) -> list[Any]:
    from kefu.audit.service import record

    out = [record(db, None, "test.chain", target_type="t", target_id=i, details={"i": i, "x": 1.0}) for i in range(n)]
    db.commit()
    return out


def _unlock(db: Any) -> None:
    """Lift the append-only triggers inside the test transaction (rolled back afterwards)."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("DROP TRIGGER audit_log_no_update"))
        db.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        db.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))


def test_entries_are_chained_and_verify(db: Any) -> None:
    from kefu.audit.chain import HASHED_FIELDS, audit_keys, keyed_hash, verify_chain

    rows = _entries(db)
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 4))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    db.expire_all()
    again = db.get(type(rows[1]), rows[1].id)
    kid, keys = audit_keys()
    values = {k: getattr(again, k) for k in HASHED_FIELDS}
    assert again.key_id == kid and again.hash == keyed_hash(keys[kid], kid, again.seq, again.prev_hash, values)
    result = verify_chain(db)
    assert result.ok, result.problems
    assert result.checked >= 4


@pytest.mark.parametrize("attack", ["modify", "delete", "reorder", "truncate"])
def test_verify_detects_tampering(db: Any, attack: str) -> None:
    from kefu.audit.chain import verify_chain

    rows = _entries(db)
    _unlock(db)
    a, b = rows[1], rows[2]
    if attack == "modify":
        db.execute(text("UPDATE audit_log SET action = 'test.innocent' WHERE id = :id"), {"id": a.id})
        expected = "modified"
    elif attack == "delete":
        db.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": a.id})
        expected = "missing"
    elif attack == "reorder":
        db.execute(text("UPDATE audit_log SET seq = -1 WHERE id = :id"), {"id": a.id})
        db.execute(text("UPDATE audit_log SET seq = :s WHERE id = :id"), {"s": a.seq, "id": b.id})
        db.execute(text("UPDATE audit_log SET seq = :s WHERE id = :id"), {"s": b.seq, "id": a.id})
        expected = "reordered"
    else:
        db.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": rows[-1].id})
        expected = "truncated"
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems


def test_audit_verify_endpoint(client: Any, make: Any) -> None:
    h = make.token(make.agent("auditor"))
    r = client.get("/api/v1/audit/verify", headers=h)
    assert r.status_code == 200 and r.json()["ok"], r.json()
    assert client.get("/api/v1/audit/verify", headers=make.token(make.agent("agent"))).status_code == 403
    # Entries without a brand (agent creation, logins) are platform-wide: admins read them.
    entries = client.get("/api/v1/audit", headers=make.token(make.agent("admin"))).json()["items"]
    assert entries and all(len(e["hash"]) == 64 for e in entries)


def test_audit_verify_cli(db_url: str) -> None:
    from typer.testing import CliRunner

    from kefu.cli import app
    from kefu.core import runtime
    from kefu.core.db import DATABASE, Database

    database = Database(db_url)  # the CLI sees committed data only
    try:
        with runtime.override(DATABASE, database):
            result = CliRunner().invoke(app, ["audit", "verify"])
    finally:
        database.dispose()
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_concurrent_appends_do_not_fork_the_chain(db_url: str) -> None:
    from kefu.audit.chain import verify_chain
    from kefu.audit.models import AuditLog
    from kefu.audit.service import record
    from kefu.core.db import Database

    database = Database(db_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with database.session() as s:
                    record(s, None, "test.concurrent", target_type="w", target_id=f"{n}-{i}")
                    record(s, None, "test.concurrent", target_type="w", target_id=f"{n}-{i}b")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        with database.session() as s:
            seqs = list(s.scalars(select(AuditLog.seq).where(AuditLog.action == "test.concurrent")))
            assert len(seqs) == 80 and len(set(seqs)) == 80
            result = verify_chain(s)
            assert result.ok, result.problems
    finally:
        database.dispose()


def test_an_entry_recorded_after_a_commit_goes_in_with_the_next_one(db_url: str) -> None:
    """A request that commits mid-way (to release SQLite's write turn before a slow provider call) and records its
    audit entry afterwards still gets it into the chain at its final commit; a rollback still drops it."""
    from kefu.audit.models import AuditLog
    from kefu.audit.service import record
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        s = database.sessionmaker()
        try:
            s.commit()  # no transaction open from here on
            record(s, None, "test.after_commit.kept", target_type="t", target_id=1)
            s.commit()
            s.commit()
            record(s, None, "test.after_commit.dropped", target_type="t", target_id=2)
            s.rollback()
            s.commit()
        finally:
            s.close()
        with database.session() as r:
            actions = set(r.scalars(select(AuditLog.action).where(AuditLog.action.like("test.after_commit.%"))))
        assert actions == {"test.after_commit.kept"}
    finally:
        database.dispose()


def test_migration_backfills_existing_entries(tmp_path: Any) -> None:
    from kefu.audit.chain import verify_chain
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url, "0002")
    database = Database(url)
    with database.engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor_type, actor_id, actor_label, action, details) "
                    "VALUES (:at, 'system', NULL, 'system', 'legacy', :d)"
                ),
                {"at": f"2025-01-0{i + 1} 00:00:00.000000", "d": f'{{"n": {i}}}'},
            )
    upgrade(url)
    with database.session() as s:
        result = verify_chain(s)
    database.dispose()
    assert result.ok and result.checked == 3 and result.head_seq == 3, result.problems


def test_entries_are_appended_at_commit_and_visible_to_reads(db: Any) -> None:
    """record() queues the entry; the chain head is touched only at commit, or when the session reads the log."""
    from kefu.audit.chain import flush_pending
    from kefu.audit.models import AuditChainHead, AuditLog
    from kefu.audit.service import record

    db.commit()
    head_before = db.scalar(select(AuditChainHead.seq))
    entry = record(db, None, "test.deferred", target_type="t", target_id=1)
    assert entry.id is None and entry.seq is None  # not inserted yet: no chain-head lock taken
    assert db.scalar(select(AuditChainHead.seq)) == head_before
    seen = db.scalar(select(AuditLog).where(AuditLog.action == "test.deferred"))  # a read flushes the queue
    assert seen is entry and entry.seq == (head_before or 0) + 1
    later = record(db, None, "test.deferred.commit", target_type="t", target_id=2)
    db.commit()
    assert later.seq == entry.seq + 1 and later.prev_hash == entry.hash
    flush_pending(db)  # nothing left queued


def test_rolled_back_entries_are_dropped(db: Any) -> None:
    """Entries recorded in a rolled-back transaction or savepoint never reach the chain."""
    from kefu.audit.chain import verify_chain
    from kefu.audit.models import AuditLog
    from kefu.audit.service import record

    db.commit()
    record(db, None, "test.kept", target_type="t", target_id=1)
    nested = db.begin_nested()
    record(db, None, "test.savepoint.dropped", target_type="t", target_id=2)
    nested.rollback()
    db.commit()
    actions = set(db.scalars(select(AuditLog.action).where(AuditLog.action.like("test.%"))))
    assert "test.kept" in actions and "test.savepoint.dropped" not in actions
    record(db, None, "test.tx.dropped", target_type="t", target_id=3)
    db.rollback()
    db.commit()
    assert db.scalar(select(AuditLog.id).where(AuditLog.action == "test.tx.dropped")) is None
    assert verify_chain(db).ok


def test_entries_with_control_characters_verify(db: Any) -> None:
    """The database layer drops C0 controls from stored text (kefu.core.textrules): the hash covers the stored text."""
    from kefu.audit.chain import verify_chain
    from kefu.audit.service import record
    from kefu.core.textrules import install_text_rule

    install_text_rule()
    entry = record(
        db,
        None,
        "test.chain",
        target_type="t\x01",
        target_id=1,
        details={"subject": "退款\x00問題\x1b", "k\x02": ["a\x07"]},
    )
    db.commit()
    db.expire_all()
    stored = db.get(type(entry), entry.id)
    assert stored.details == {"subject": "退款問題", "k": ["a"]} and stored.target_type == "t"
    result = verify_chain(db)
    assert result.ok, result


def test_text_that_looks_like_json_verifies(db: Any) -> None:
    """A text field holding a JSON snippet with escapes (e.g. a target id typed by someone) is stored as written: the
    text rule re-encodes JSON values only, so the hash over the text still matches what verify_chain reads."""
    from kefu.audit.chain import verify_chain
    from kefu.audit.service import record
    from kefu.core.textrules import install_text_rule

    install_text_rule()
    typed = '["\\u0001"]'  # eight printable characters, no control character
    entry = record(db, None, "test.chain", target_type="t", target_id=typed, details={"note": typed})
    db.commit()
    db.expire_all()
    stored = db.get(type(entry), entry.id)
    assert stored.target_id == typed and stored.details == {"note": typed}
    result = verify_chain(db)
    assert result.ok, result
