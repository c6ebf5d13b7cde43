"""scripts/strings_to_po.py: converts dict tables idempotently, keeps existing entries, refuses key conflicts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kefu.core.catalog import LOCALES, po_path, read_catalog

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "strings_to_po.py"


@pytest.fixture(scope="module")
def conv() -> ModuleType:
    spec = importlib.util.spec_from_file_location("strings_to_po", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["strings_to_po"] = module
    spec.loader.exec_module(module)
    return module


def test_catalogs_are_already_in_converter_form(conv: Any) -> None:
    """Re-running the converter on the committed catalogs changes no byte (sorted, unwrapped, fixed header)."""
    entries = conv.load_catalogs()
    for loc in LOCALES:
        assert conv.render(entries, loc) == po_path(loc).read_bytes(), loc
        assert read_catalog(po_path(loc)) == {k: v[loc] for k, v in entries.items()}


def test_merge_adds_new_keys_and_keeps_existing(conv: Any) -> None:
    catalogs = {"login": {"zh-TW": "登入", "zh-CN": "登录", "en": "Sign in"}}
    table = {
        "login": ("登入", "登录", "Sign in"),
        "x_new": ("新的 {n}", "新的 {n}", "New {n}"),
    }
    entries = {k: conv._entry(k, v, "t") for k, v in table.items()}
    added, unchanged = conv.merge(catalogs, {"mod:STRINGS3": entries})
    assert (added, unchanged) == (["x_new"], ["login"])
    assert catalogs["x_new"] == {"zh-TW": "新的 {n}", "zh-CN": "新的 {n}", "en": "New {n}"}
    again = conv.merge(catalogs, {"mod:STRINGS3": entries})
    assert again == ([], ["login", "x_new"])  # idempotent
    po = conv.render(catalogs, "zh-CN").decode()
    assert 'msgid "x_new"\nmsgstr "新的 {n}"' in po and "python-brace-format" in po


def test_conflicts_fail_loudly(conv: Any) -> None:
    catalogs = {"login": {"zh-TW": "登入", "zh-CN": "登录", "en": "Sign in"}}
    changed = {"login": {"zh-TW": "登入", "zh-CN": "注销", "en": "Sign in"}}
    with pytest.raises(conv.ConflictError, match="login"):
        conv.merge(catalogs, {"a:T": changed})
    twice = {"k": {"zh-TW": "甲", "zh-CN": "甲", "en": "A"}}
    with pytest.raises(conv.ConflictError, match="defined in both"):
        conv.merge({}, {"a:T": twice, "b:T": twice})
    with pytest.raises(conv.ConflictError, match="not a"):
        conv._entry("k", ("only", "two"), "a:T")
    assert catalogs["login"]["zh-CN"] == "登录"


def test_check_mode_reports_no_leftover_tables(conv: Any, capsys: Any) -> None:
    assert conv.main(["--check"]) == 0
    assert capsys.readouterr().out == ""
