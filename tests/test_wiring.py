"""One wiring root: process state lives in kefu.core.runtime, filled by kefu.bootstrap.wire (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# `global` rebinding is how a module-level setter swaps process state; only the runtime container may do it.
# The two others are lazy, idempotent loads of fixed things (channel adapter modules, the jieba tokenizer).
GLOBAL_ALLOWED = {
    "kefu.core.runtime": "the one runtime container",
    "kefu.channels.base": "load_adapters() imports the adapter modules once",
    "kefu.bot.nlu.features": "jieba is imported and initialised once, on first use",
}
# Calls that run a process's components; a function that makes one must have wired the runtime first.
PROCESS_CALLS = {"run_worker_blocking", "Scheduler", "start_receiver", "run_due", "run_eval", "load_jobs"}
# Functions that receive an already wired runtime or factory (they are called from a wired process).
PROCESS_CALL_ALLOWED = {
    "kefu.bootstrap.wire",  # the root itself loads the job handlers
    "kefu.web.app.create_app",  # wires when not handed a runtime; kefu.web.main hands it wire(settings)
    "kefu.channels.background.Background.start",  # started by the wired app's channel lifespan
    "kefu.bot.cli.bot_eval_command",  # run_eval wires a temporary runtime (kefu.bot.evaluation._temporary_runtime)
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted((SRC / "kefu").rglob("*.py"))
        if "migrations" not in p.relative_to(SRC).parts
    }


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _functions(tree: ast.Module, prefix: str) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Module-level functions and methods, with their dotted names."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((f"{prefix}.{node.name}", node))
        elif isinstance(node, ast.ClassDef):
            found.extend(
                (f"{prefix}.{node.name}.{item.name}", item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return found


def test_no_module_level_state_rebinding_outside_the_runtime() -> None:
    """A new `global x; x = ...` setter fails here: put the component in a runtime Slot instead."""
    offenders = sorted(
        f"{name}:{node.lineno} global {', '.join(node.names)}"
        for name, tree in _modules().items()
        if name not in GLOBAL_ALLOWED
        for node in ast.walk(tree)
        if isinstance(node, ast.Global)
    )
    assert offenders == [], "module-level state set through `global` (use kefu.core.runtime.Slot):\n" + "\n".join(
        offenders
    )


def test_no_global_setter_functions() -> None:
    """`set_x(value)` at module level is a process-wide setter unless it is a domain write taking a Session first."""
    offenders = []
    for name, tree in _modules().items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("api", "pages", "deps") or name.startswith("kefu.web"):
            continue  # route handlers and response helpers, not process state
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("set_"):
                first = node.args.args[0] if node.args.args else None
                if first is None or "Session" not in ast.unparse(first.annotation or ast.Constant("")):
                    offenders.append(f"{name}.{node.name}({ast.unparse(first) if first else ''})")
    assert offenders == [], "process-wide setters (wire a runtime Slot instead): " + ", ".join(offenders)


def test_importing_a_module_changes_no_wiring() -> None:
    """No module calls a setter or the runtime at import time (bot/jobs.py used to swap the ticket classifier)."""
    forbidden = {"install", "provide", "override", "discard", "wire"}
    offenders = sorted(
        f"{name}:{node.lineno} {ast.unparse(node)[:80]}"
        for name, tree in _modules().items()
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and (_callee(node.value).startswith("set_") or _callee(node.value) in forbidden)
    )
    assert offenders == []


def test_process_entry_points_go_through_wire() -> None:
    """Every function that starts workers, the scheduler, the SMTP receiver or runs jobs calls wire() itself."""
    offenders = []
    for name, tree in _modules().items():
        for qualname, fn in _functions(tree, name):
            calls = {_callee(n) for n in ast.walk(fn) if isinstance(n, ast.Call)}
            if calls & PROCESS_CALLS and "wire" not in calls and qualname not in PROCESS_CALL_ALLOWED:
                offenders.append(f"{qualname} calls {sorted(calls & PROCESS_CALLS)} without wire()")
    assert offenders == []


def test_serve_target_and_bot_eval_are_wired() -> None:
    """`kefu serve` runs kefu.web.main:app, built on wire(settings); the bot eval wires its temporary runtime."""
    trees = _modules()
    cli_calls = [n for n in ast.walk(trees["kefu.cli"]) if isinstance(n, ast.Call) and _callee(n) == "run"]
    assert any(isinstance(a, ast.Constant) and a.value == "kefu.web.main:app" for c in cli_calls for a in c.args)
    main_calls = {_callee(n) for n in ast.walk(trees["kefu.web.main"]) if isinstance(n, ast.Call)}
    assert {"wire", "create_app"} <= main_calls
    evaluation = dict(_functions(trees["kefu.bot.evaluation"], "kefu.bot.evaluation"))
    temporary = evaluation["kefu.bot.evaluation._temporary_runtime"]
    assert "wire" in {_callee(n) for n in ast.walk(temporary) if isinstance(n, ast.Call)}
    assert "environ" not in ast.unparse(trees["kefu.bot.evaluation"])  # explicit settings, no process env edits


def test_import_leaves_the_keyword_classifier_and_wire_installs_the_nlu_one() -> None:
    """Importing every jobs module changes nothing; wire() is what plugs the bot's NLU into ticket creation."""
    code = (
        "from kefu import registry\n"
        "from kefu.core import runtime\n"
        "from kefu.tickets.classify import CLASSIFIER, keyword_classifier_for\n"
        "registry.modules('jobs')\n"
        "assert runtime.get(CLASSIFIER) is keyword_classifier_for\n"
        "from kefu.bootstrap import wire\n"
        "from kefu.bot.classifier import classifier_factory\n"
        "from kefu.core.config import Settings\n"
        "wired = wire(Settings(database_url='sqlite://'))\n"
        "assert runtime.current() is wired and runtime.get(CLASSIFIER) is classifier_factory\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SRC.parent, timeout=120)


def test_wire_builds_every_component_from_settings(tmp_path: Path) -> None:
    """wire(settings) decides the database, bus, queue and index store from the settings it is given."""
    from kefu.bootstrap import wire
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime
    from kefu.core.config import Settings
    from kefu.core.db import DATABASE
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.jobs import QUEUE, LocalJobs
    from kefu.security.reset import RESET_SENDER
    from kefu.security.resetmail import ResetMailer

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", data_dir=tmp_path, redis_url=None, bot_fit_wait_seconds=3.5
    )
    wired = wire(settings, install=False)
    assert runtime.current() is not wired  # install=False leaves the process alone
    assert wired.settings is settings
    # peek: what wire() chose, not the per-test overrides conftest installs (bot index registry, bus, queue)
    database = wired.peek(DATABASE)
    assert database is not None and database.url == settings.database_url
    assert isinstance(wired.peek(BUS), MemoryBus) and isinstance(wired.peek(QUEUE), LocalJobs)
    registry = wired.peek(INDEX_REGISTRY)
    assert registry is not None and registry.store_dir is not None
    assert registry.store_dir.parent == tmp_path / "bot-index" and registry.fit_wait == 3.5
    sender = wired.peek(RESET_SENDER)  # reset links go out as mail (the system relay or a brand inbox's)
    assert isinstance(sender, ResetMailer) and sender.settings is settings
    database.dispose()


def test_override_wins_over_the_installed_runtime_and_is_undone() -> None:
    """Tests replace one component for one block; whatever runtime is installed, it comes back afterwards."""
    from kefu.core import runtime
    from kefu.core.events import BUS, MemoryBus, get_bus

    before = get_bus()
    replacement: Any = MemoryBus()
    with runtime.override(BUS, replacement):
        assert get_bus() is replacement
        previous = runtime.install(runtime.Runtime())
        try:
            assert get_bus() is replacement
        finally:
            runtime.install(previous)
    assert get_bus() is before


@pytest.mark.parametrize("variable", ["KEFU_OUTBOUND_ALLOW", "KEFU_OUTBOX_MAX_ATTEMPTS", "KEFU_SMTP_PORT"])
def test_malformed_settings_fail_loudly(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """Nested and list settings reject a malformed value with the variable's name instead of using the default."""
    from pydantic import ValidationError

    from kefu.core.config import Settings

    monkeypatch.setenv(variable, "not-a-valid-value")
    with pytest.raises(ValidationError):
        Settings()


def test_environment_is_read_only_by_the_settings() -> None:
    """KEFU_* variables reach the code through kefu.core.config.Settings only (validated, one tree)."""
    offenders = sorted(
        f"{name}:{node.lineno}"
        for name, tree in _modules().items()
        if name != "kefu.core.config"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv", "unsetenv"))
        or (isinstance(node, ast.Name) and node.id in ("environ", "getenv"))
    )
    assert offenders == []
