"""Idempotency test helpers: a create held in flight while its duplicate arrives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

InFlight = Callable[[Any, str, Callable[[], Any]], tuple[Any, Any]]


@pytest.fixture
def in_flight(monkeypatch: pytest.MonkeyPatch) -> InFlight:
    """`in_flight(module, name, send)`: send() in a thread, held inside module.name (what the route calls) until a
    second send() with the same key was answered; returns (first answer, duplicate's answer)."""

    def run(module: Any, name: str, send: Callable[[], Any]) -> tuple[Any, Any]:
        entered, release = threading.Event(), threading.Event()
        real = getattr(module, name)

        def slow(*a: Any, **kw: Any) -> Any:
            entered.set()
            assert release.wait(30)
            return real(*a, **kw)

        monkeypatch.setattr(module, name, slow)
        answers: list[Any] = []
        first = threading.Thread(target=lambda: answers.append(send()))
        first.start()
        try:
            assert entered.wait(30)
            duplicate = send()
        finally:
            release.set()
            first.join(30)
        monkeypatch.setattr(module, name, real)
        return answers[0], duplicate

    return run
