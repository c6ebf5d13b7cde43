"""The scripted walk through docs/PROMISES.md: every promise's tests, run and reported per promise.

docs/PROMISES.md lists each seed promise with the tests that show it (paths relative to `tests/`, `::name` repeating
the previous file). `kefu promises check` reads the tables, checks that every named test exists, runs each promise's
tests with pytest in a subprocess (the same tests CI runs: through the API, the CLI and the pages, on SQLite, and on
PostgreSQL when KEFU_TEST_DATABASE_URL is set) and prints pass / fail per promise. It needs a source checkout with
the test suite and the dev dependencies; it is a release and acceptance tool, not a production command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

_ROW = re.compile(r"^\|\s*(\d+)\s*\|(.*)\|\s*$")
_CODE = re.compile(r"`([^`]+)`")


@dataclass
class Promise:
    """One row of docs/PROMISES.md."""

    number: int
    text: str
    seed: str
    status: str
    tests: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What the walk found for one promise."""

    promise: Promise
    result: str  # pass | fail | missing | untested
    detail: str = ""


def parse(markdown: str) -> list[Promise]:
    """Numbered promise rows: | # | promise | seed | how | test | status |."""
    out: list[Promise] = []
    for line in markdown.splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        if len(cells) < 5:
            continue
        text, seed, _how, tests_cell, status = cells[0], cells[1], cells[2], cells[3], cells[-1]
        tests: list[str] = []
        current = ""
        for ref in _CODE.findall(tests_cell):
            ref = ref.strip()
            if ref.startswith("::"):
                if current:
                    tests.append(f"{current}{ref}")
                continue
            if not ref.endswith(".py") and ".py::" not in ref:
                continue
            current = ref.split("::", 1)[0]
            tests.append(ref)
        word = re.match(r"[a-z/]+", status.strip())
        out.append(Promise(int(m.group(1)), text, seed, word.group(0) if word else status, tests))
    return out


def missing_tests(promise: Promise, tests_dir: Path) -> list[str]:
    """Named tests whose file or test function does not exist."""
    missing = []
    for ref in promise.tests:
        path, _, name = ref.partition("::")
        file = tests_dir / path
        if not file.is_file() or (
            name and not re.search(rf"^(async )?def {re.escape(name)}\(", file.read_text("utf-8"), re.MULTILINE)
        ):
            missing.append(ref)
    return missing


def walk(
    docs: Path, tests_dir: Path, *, only: set[int] | None = None, run: bool = True, timeout: float = 1800
) -> list[Outcome]:
    """Check (and run) the tests of every promise; n/a and gap rows are reported as untested."""
    out: list[Outcome] = []
    for p in parse(docs.read_text("utf-8")):
        if only and p.number not in only:
            continue
        if not p.tests:
            # A kept or partial promise must name the test that shows it; gaps and n/a rows have none.
            kept = p.status in ("kept", "partial")
            out.append(Outcome(p, "missing" if kept else "untested", "no test named" if kept else p.status))
            continue
        gone = missing_tests(p, tests_dir)
        if gone:
            out.append(Outcome(p, "missing", ", ".join(gone)))
            continue
        if not run:
            out.append(Outcome(p, "found", f"{len(p.tests)} tests"))
            continue
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(f"tests/{t}" for t in p.tests)]
        try:
            proc = subprocess.run(  # noqa: S603 - our own interpreter and test ids read from our own docs
                cmd, cwd=tests_dir.parent, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            out.append(Outcome(p, "fail", f"timed out after {timeout:.0f}s"))
            continue
        tail = (proc.stdout.strip().splitlines() or [""])[-1]
        out.append(Outcome(p, "pass" if proc.returncode == 0 else "fail", tail))
    return out
