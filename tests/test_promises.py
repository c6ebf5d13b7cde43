"""The scripted walk through docs/PROMISES.md (#17): every promise names tests that exist, and `kefu promises
check` runs them and reports pass / fail per promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def test_every_kept_promise_names_tests_that_exist() -> None:
    from kefu.ops.promises import parse, walk

    promises = parse((ROOT / "docs/PROMISES.md").read_text("utf-8"))
    assert len(promises) >= 40 and sorted(p.number for p in promises) == list(range(1, len(promises) + 1))
    outcomes = walk(ROOT / "docs/PROMISES.md", ROOT / "tests", run=False)
    bad = [(o.promise.number, o.result, o.detail) for o in outcomes if o.result not in ("found", "untested")]
    assert bad == []
    assert {o.promise.status for o in outcomes if o.result == "untested"} <= {"gap", "n/a"}


def test_walk_reads_shorthand_and_reports_missing_tests(tmp_path: Path) -> None:
    from kefu.ops.promises import parse, walk

    (tmp_path / "tests" / "a").mkdir(parents=True)
    (tmp_path / "tests" / "a" / "test_x.py").write_text("def test_one() -> None:\n    assert True\n", "utf-8")
    doc = tmp_path / "P.md"
    doc.write_text(
        "| # | promise | seed | how | test | status |\n|---|---|---|---|---|---|\n"
        "| 1 | one | 003 | x | `a/test_x.py::test_one`, `::test_two` | kept |\n"
        "| 2 | two | 003 | x | — | gap |\n"
        "| 3 | three | 003 | x | — | kept |\n",
        "utf-8",
    )
    promises = parse(doc.read_text("utf-8"))
    assert promises[0].tests == ["a/test_x.py::test_one", "a/test_x.py::test_two"]
    got = {o.promise.number: (o.result, o.detail) for o in walk(doc, tmp_path / "tests", run=False)}
    assert got == {1: ("missing", "a/test_x.py::test_two"), 2: ("untested", "gap"), 3: ("missing", "no test named")}


def test_cli_runs_a_promise_and_reports_pass(monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from kefu.cli import app

    monkeypatch.chdir(ROOT)
    # SQLite only in the child run: this checks the walk, the test itself runs on PostgreSQL in the suite.
    monkeypatch.delenv("KEFU_TEST_DATABASE_URL", raising=False)
    for flag in ("KEFU_TEST_REQUIRE_SERVICES", "CI"):  # CI requires PostgreSQL; the child run is SQLite only
        monkeypatch.delenv(flag, raising=False)
    r = CliRunner().invoke(app, ["promises", "check", "--only", "36"])
    assert r.exit_code == 0, r.output
    assert " 36  pass" in r.output and "summary: 1 pass" in r.output
    dry = CliRunner().invoke(app, ["promises", "check", "--dry-run"])
    assert dry.exit_code == 0 and "summary:" in dry.output and "missing" not in dry.output
