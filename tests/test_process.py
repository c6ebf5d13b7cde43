"""Interpreter settings of served processes (kefu.core.process)."""

from __future__ import annotations

import ast
import gc
import sys
from pathlib import Path

import pytest

from kefu.core import chinese
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
    """kefu.web.main (the `kefu serve` target) calls settle() last: after the app, its route tables, its OpenCC
    converters and its worker threads (issue #21: each of those built on first use stalled the event loop)."""
    tree = ast.parse((Path(__file__).parent.parent / "src/kefu/web/main.py").read_text())
    calls = [
        n.value.func.id
        for n in tree.body
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
    ]
    assert calls[-1] == "settle" and {"warm", "preload", "prestart"} <= set(calls)


def test_preload_builds_every_converter_and_no_other_config_is_built_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build holds the GIL for 60-300 ms: preload() builds all of CONFIGS, and a config outside them is refused."""
    monkeypatch.setattr(chinese, "_converters", {})
    chinese.preload()
    assert set(chinese._converters) == set(chinese.CONFIGS)
    with pytest.raises(ValueError, match="CONFIGS"):
        chinese.converter("hk2s")


def test_every_config_the_code_converts_with_is_preloaded() -> None:
    """The configs named in kefu's source are all in CONFIGS (a new one would be built inside a request)."""
    named: set[str] = set()
    for path in (Path(__file__).parent.parent / "src/kefu").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "convert",
                "converter",
            ):
                named.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    configs = {n for n in named if n.isascii() and n.isalnum() and "2" in n}
    assert configs and configs <= set(chinese.CONFIGS)
