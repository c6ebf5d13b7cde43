"""Interpreter settings of served processes (kefu.core.process)."""

from __future__ import annotations

import ast
import gc
import sys
from pathlib import Path

from kefu.core.process import SWITCH_INTERVAL, settle


def test_settle_freezes_the_start_up_heap_and_shortens_the_gil_switch_interval() -> None:
    """After settle() collections skip what start-up made; a thread back from SQLite waits ≤ 1 ms for the GIL."""
    before = sys.getswitchinterval()
    try:
        settle()
        assert gc.get_freeze_count() > 0
        assert sys.getswitchinterval() == SWITCH_INTERVAL < before
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)


def test_the_served_app_settles_after_its_start_up_work() -> None:
    """kefu.web.main (the `kefu serve` target) calls settle() last: after wiring, the app and its route tables."""
    tree = ast.parse((Path(__file__).parent.parent / "src/kefu/web/main.py").read_text())
    calls = [
        n.value.func.id
        for n in tree.body
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
    ]
    assert calls[-1] == "settle" and "warm" in calls
