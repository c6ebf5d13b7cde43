"""after_commit hooks run only after the outermost real commit; any enclosing rollback discards them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from kefu.core.db import after_commit, pending_after_commit


def test_hook_in_savepoint_waits_for_outer_commit(db: Any) -> None:
    ran: list[str] = []
    db.execute(text("SELECT 1"))
    with db.begin_nested():
        after_commit(db, lambda: ran.append("inner"))
    assert ran == []  # RELEASE SAVEPOINT is not a commit
    after_commit(db, lambda: ran.append("outer"))
    db.commit()
    assert ran == ["inner", "outer"]
    assert pending_after_commit(db) == 0


def test_savepoint_rollback_discards_only_its_hooks(db: Any) -> None:
    ran: list[str] = []
    after_commit(db, lambda: ran.append("kept"))
    try:
        with db.begin_nested():
            after_commit(db, lambda: ran.append("discarded"))
            with db.begin_nested():
                after_commit(db, lambda: ran.append("child of discarded"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.begin_nested():
        after_commit(db, lambda: ran.append("sibling"))
    db.commit()
    assert ran == ["kept", "sibling"]


def test_outer_rollback_discards_everything(db: Any) -> None:
    ran: list[str] = []
    with db.begin_nested():
        after_commit(db, lambda: ran.append("inner"))
    after_commit(db, lambda: ran.append("outer"))
    db.rollback()
    db.commit()
    assert ran == [] and pending_after_commit(db) == 0


def test_on_rollback_runs_for_the_rolled_back_transaction_only(db: Any) -> None:
    from kefu.core.db import on_rollback

    undone: list[str] = []
    on_rollback(db, lambda: undone.append("outer"))
    try:
        with db.begin_nested():
            on_rollback(db, lambda: undone.append("savepoint"))
            with db.begin_nested():
                on_rollback(db, lambda: undone.append("child of savepoint"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert undone == ["savepoint", "child of savepoint"]  # a savepoint's rollback undoes what was done inside it
    with db.begin_nested():
        on_rollback(db, lambda: undone.append("released"))
    db.rollback()
    assert undone == ["savepoint", "child of savepoint", "outer", "released"]
    on_rollback(db, lambda: undone.append("committed"))
    db.commit()
    db.rollback()
    assert undone[-1] == "released"  # a committed transaction's undo is forgotten
