"""The process runtime: one container of the wired components (database, bus, job queue, capability services).

`kefu.bootstrap.wire(settings)` builds a `Runtime` and installs it; every process entry point (serve, worker,
scheduler, smtp, `kefu jobs run`, `kefu bot eval`) goes through it. A component is named by a typed `Slot` declared
next to the code that uses it (`core.db.DATABASE`, `core.events.BUS`, `core.jobs.QUEUE`, `bot.engine.INDEX_REGISTRY`,
`tickets.classify.CLASSIFIER`, `security.reset.RESET_SENDER`); a slot nobody wired is built from its default on
first use, so library code and one-off CLI commands keep working. Tests replace one component for one test with
`override(slot, value)`; overrides take precedence over whatever runtime is installed, and are undone on exit.
This module is the only place that keeps process-wide mutable state (tests/test_wiring.py checks it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

from kefu.core.config import Settings, get_settings

T = TypeVar("T")
_MISSING: Any = object()


class Slot(Generic[T]):
    """A named component of the runtime; `default(settings)` builds it when nothing was wired."""

    def __init__(self, name: str, default: Callable[[Settings], T]) -> None:
        self.name = name
        self.default = default

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class Runtime:
    """The components one process runs with; unwired slots are built from their defaults on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._parts: dict[Slot[Any], Any] = {}
        self._lock = threading.RLock()  # re-entrant: a default may look up another slot

    @property
    def settings(self) -> Settings:
        """The settings this runtime was wired with (the environment's when built implicitly)."""
        return self._settings if self._settings is not None else get_settings()

    def provide(self, slot: Slot[T], value: T) -> None:
        """Wire `value` as the slot's component."""
        with self._lock:
            self._parts[slot] = value

    def discard(self, slot: Slot[Any]) -> None:
        """Forget the slot's component (the next use builds the default again)."""
        with self._lock:
            self._parts.pop(slot, None)

    def get(self, slot: Slot[T]) -> T:
        """The slot's component: a test override, else the wired one, else its default (built once)."""
        # Lock-free reads on the hot path (every publish/enqueue/request asks): dict reads are atomic in CPython.
        if _overrides:
            overridden = _overrides.get(slot, _MISSING)
            if overridden is not _MISSING:
                return cast(T, overridden)
        value = self._parts.get(slot, _MISSING)
        if value is _MISSING:
            with self._lock:
                if slot not in self._parts:
                    self._parts[slot] = slot.default(self.settings)
                value = self._parts[slot]
        return cast(T, value)

    def peek(self, slot: Slot[T]) -> T | None:
        """The wired component, without building a default (None when not built yet)."""
        with self._lock:
            found: T | None = self._parts.get(slot)
            return found


_current = Runtime()
_current_lock = threading.Lock()
_overrides: dict[Slot[Any], Any] = {}
_overrides_lock = threading.Lock()


def current() -> Runtime:
    """The installed runtime (an implicit one, built from the environment, until `wire()` installs another)."""
    return _current  # a plain read of one reference; install() swaps it under the lock


def install(runtime: Runtime | None) -> Runtime:
    """Make `runtime` the process runtime (None: a fresh implicit one); returns the previous one."""
    global _current
    with _current_lock:
        previous, _current = _current, runtime or Runtime()
        return previous


def get(slot: Slot[T]) -> T:
    """The installed runtime's component for `slot`."""
    return _current.get(slot)


@contextmanager
def override(slot: Slot[T], value: T) -> Iterator[T]:
    """Replace one component for the duration of the block, whichever runtime is installed (tests, benchmarks)."""
    with _overrides_lock:
        previous = _overrides.get(slot, _MISSING)
        _overrides[slot] = value
    try:
        yield value
    finally:
        with _overrides_lock:
            if previous is _MISSING:
                _overrides.pop(slot, None)
            else:
                _overrides[slot] = previous
