"""Audit appends guess the chain head this process last wrote (kefu.audit.chain.append_entries)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select


def test_a_stale_guess_chains_to_the_real_head(db: Any, count_queries: Any, monkeypatch: Any) -> None:
    from kefu.audit import chain

    monkeypatch.setattr(chain, "_hit_rate", {})  # earlier tests' rollbacks may have made this process stop guessing
    from kefu.audit.models import AuditChainHead, AuditLog
    from kefu.audit.service import record

    record(db, None, "test.first", target_type="t", target_id=1)
    db.commit()
    where = str(db.get_bind().engine.url)
    with count_queries() as q:
        record(db, None, "test.guessed", target_type="t", target_id=2)
        db.commit()
    assert not [s for s in q.statements if s.lstrip().upper().startswith("SELECT")], str(q)  # the guess held
    if db.get_bind().dialect.name == "postgresql":  # head advance and row in one statement (a WITH), SQLite two
        assert q.count == 1 and "UPDATE audit_chain_head" in q.statements[0], str(q)
        assert "INSERT INTO audit_log" in q.statements[0], str(q)
    head = db.scalar(select(AuditChainHead.seq))
    chain._heads[where] = (head - 1, "f" * 64)  # as if another process had advanced the head since
    entries = [record(db, None, "test.after", target_type="t", target_id=i) for i in range(3)]
    with count_queries() as q:
        db.commit()
    assert q.count == (3 if db.get_bind().dialect.name == "postgresql" else 4), str(q)
    # The guessed statement changed nothing (on PostgreSQL its INSERT read no head row): the locked read, the advance
    # and one INSERT of the three rows follow.
    assert sum("INSERT INTO audit_log" in s for s in q.statements) == 2 - (db.get_bind().dialect.name == "sqlite"), q
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test.after")) == 3
    assert [e.seq for e in entries] == [head + 1, head + 2, head + 3]
    assert chain._heads[where][0] == head + 3
    result = chain.verify_chain(db)
    assert result.ok, result.problems


def test_a_rolled_back_append_leaves_the_chain_intact(db: Any) -> None:
    from kefu.audit import chain
    from kefu.audit.service import record

    record(db, None, "test.kept", target_type="t", target_id=1)
    db.commit()
    record(db, None, "test.dropped", target_type="t", target_id=2)
    db.flush()
    chain.flush_pending(db)  # appended, then the transaction rolls back: the guess is one step ahead
    db.rollback()
    kept = record(db, None, "test.next", target_type="t", target_id=3)
    db.commit()
    assert kept.seq is not None and kept.id is not None
    result = chain.verify_chain(db)
    assert result.ok, result.problems


def test_guessing_stops_while_it_mostly_misses_and_resumes_when_it_holds(
    db: Any, count_queries: Any, monkeypatch: Any
) -> None:
    from kefu.audit import chain

    monkeypatch.setattr(chain, "_hit_rate", {})
    from kefu.audit.service import record

    record(db, None, "test.first", target_type="t", target_id=1)
    db.commit()
    where = str(db.get_bind().engine.url)

    def guessed() -> bool:
        with count_queries() as q:
            record(db, None, "test.x", target_type="t", target_id=2)
            db.commit()
        return not [s for s in q.statements if "FOR UPDATE" in s or s.lstrip().upper().startswith("SELECT")]

    for _ in range(8):  # another process keeps moving the head
        seq, _ = chain._heads[where]
        chain._heads[where] = (seq - 1, "e" * 64)
        record(db, None, "test.miss", target_type="t", target_id=3)
        db.commit()
    assert chain._hit_rate[where] < 0.5
    assert not guessed()  # reads the head under its lock instead
    while chain._hit_rate[where] < 0.5:  # the head stays where this process left it: the guess would hold
        assert not guessed()
    assert guessed()
    result = chain.verify_chain(db)
    assert result.ok, result.problems


def test_the_locked_append_advances_and_inserts_in_one_statement_on_postgresql(
    db: Any, count_queries: Any, monkeypatch: Any
) -> None:
    """Not guessing (busy multi-process writers): the head read under its lock, then the advance and the entries —
    one statement on PostgreSQL (guarded by the head just read), two on SQLite."""
    from kefu.audit import chain
    from kefu.audit.service import record

    where = str(db.get_bind().engine.url)
    monkeypatch.setattr(chain, "_hit_rate", {where: 0.0})
    entries = [record(db, None, "test.locked", target_type="t", target_id=i) for i in range(2)]
    with count_queries() as q:
        db.commit()
    assert "FOR UPDATE" in q.statements[0] or db.get_bind().dialect.name == "sqlite", str(q)
    if db.get_bind().dialect.name == "postgresql":
        assert q.count == 2 and q.statements[1].lstrip().startswith("WITH head AS"), str(q)
    else:
        assert q.count == 3, str(q)
    assert entries[1].seq == entries[0].seq + 1 and entries[0].id < entries[1].id
    result = chain.verify_chain(db)
    assert result.ok, result.problems


def test_several_entries_of_one_transaction_are_one_insert_in_seq_order(
    db: Any, count_queries: Any, monkeypatch: Any
) -> None:
    """Up to 8 entries go in one prebuilt multi-row INSERT (SQLite) or the head's WITH (PostgreSQL); more in a batch."""
    from kefu.audit import chain
    from kefu.audit.models import AuditLog
    from kefu.audit.service import record

    monkeypatch.setattr(chain, "_hit_rate", {})  # earlier tests' rollbacks may have made this process stop guessing
    record(db, None, "test.sync", target_type="t", target_id=0)
    db.commit()  # the process's guess is now the head: no missed guess (a second INSERT) below
    for count in (2, 8, 9):
        entries = [record(db, None, f"test.rows{count}", target_type="t", target_id=i) for i in range(count)]
        with count_queries() as q:
            db.commit()
        assert sum("INSERT INTO audit_log" in s for s in q.statements) == 1, str(q)
        seqs = [e.seq for e in entries]
        assert seqs == list(range(seqs[0], seqs[0] + count))
        ids = [e.id for e in entries]
        assert ids == sorted(ids) and None not in ids  # ids follow seq: verify_chain's order check
        stored = db.scalars(select(AuditLog).where(AuditLog.action == f"test.rows{count}").order_by(AuditLog.id))
        assert [(e.seq, e.target_id) for e in stored] == [(s, str(i)) for i, s in enumerate(seqs)]
    result = chain.verify_chain(db)
    assert result.ok, result.problems
