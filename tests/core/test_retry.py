"""One backoff formula (`kefu.core.retry`): its growth, cap and jitter range, and a scan that keeps it the only one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kefu.core.retry import backoff, error_line, transient_backoff

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff(a, base=2, cap=60, jitter=False) for a in (0, 1, 2, 3, 4, 5, 6, 30)] == [2, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(500, base=2, cap=300, jitter=False) == 300  # a huge attempt count does not overflow the cap


@pytest.mark.parametrize("attempt", [1, 3, 6, 40])
def test_jitter_stays_between_half_and_all_of_the_wait(monkeypatch: pytest.MonkeyPatch, attempt: int) -> None:
    full = backoff(attempt, base=2, cap=60, jitter=False)
    waits = [backoff(attempt, base=2, cap=60) for _ in range(400)]
    assert all(full / 2 <= w <= full for w in waits)
    assert max(waits) - min(waits) > full / 4  # actually spread, not a constant
    monkeypatch.setattr("kefu.core.retry.random.random", lambda: 0.0)
    assert backoff(attempt, base=2, cap=60) == full / 2
    monkeypatch.setattr("kefu.core.retry.random.random", lambda: 0.999999)
    assert backoff(attempt, base=2, cap=60) == pytest.approx(full, rel=1e-5)


def test_transient_waits_grow_with_the_streak_from_the_attempts_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kefu.core.retry.random.random", lambda: 0.999999)
    waits = [transient_backoff(0, streak, base=5, cap=3600) for streak in (1, 2, 3, 4)]
    assert waits == pytest.approx([5, 10, 20, 40], rel=1e-5)
    # After three attempts used, the first transient failure waits like a fourth attempt... and still capped.
    assert transient_backoff(3, 1, base=5, cap=3600) == pytest.approx(20, rel=1e-5)
    assert transient_backoff(3, 50, base=5, cap=3600) == pytest.approx(3600, rel=1e-5)


def test_the_jobs_and_the_inbound_events_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from kefu.channels.service import transient_retry_delay
    from kefu.core.config import get_settings
    from kefu.core.jobs import backoff_seconds

    monkeypatch.setattr("kefu.core.retry.random.random", lambda: 0.0)
    s = get_settings()
    assert backoff_seconds(2) == min(s.jobs_max_delay_seconds, s.jobs_base_delay_seconds * 2) / 2
    assert transient_retry_delay(1, 1) > 0


def test_no_other_module_writes_its_own_doubling() -> None:
    """A second `base * 2 ** (n - 1)` elsewhere drifts from this one (the jobs and the inbound events had two)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "core/retry.py" or "migrations" in rel:
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{rel}: {m.group(0)}" for m in re.finditer(r"\* 2 \*\* |random\.random\(\) / 2", text)]
    assert found == []


def test_transient_failures_use_no_attempt_until_the_streak_limit() -> None:
    """Every other failure uses an attempt; a transient one only from TRANSIENT_STREAK_LIMIT in a row on."""
    from kefu.core.retry import TRANSIENT_STREAK_LIMIT, uses_attempt

    assert uses_attempt(False, 0)
    assert not uses_attempt(True, 1) and not uses_attempt(True, TRANSIENT_STREAK_LIMIT - 1)
    assert uses_attempt(True, TRANSIENT_STREAK_LIMIT) and uses_attempt(True, TRANSIENT_STREAK_LIMIT + 5)


def test_error_line_is_the_drivers_first_line_or_the_type_name() -> None:
    class Wrapped(Exception):
        def __init__(self, orig: BaseException) -> None:
            super().__init__("(psycopg.OperationalError) wrapped\n[SQL: SELECT 1]")
            self.orig = orig

    assert error_line(Wrapped(OSError("connection refused\n\tIs the server running?"))) == "connection refused"
    assert error_line(RuntimeError("")) == "RuntimeError"  # empty text: a line all the same, never IndexError
    assert error_line(Wrapped(TimeoutError())) == "TimeoutError"
    assert error_line(ValueError("x" * 500), 300) == "x" * 300
