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
