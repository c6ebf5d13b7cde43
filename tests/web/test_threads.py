"""A served process's worker threads are started before its first request and kept (kefu.web.threads, issue #21)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from anyio._backends._asyncio import WorkerThread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from kefu.web.threads import IDLE_FOREVER, prestart

BURST = 40  # anyio's default limiter: every worker busy at once


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts anyio worker-thread starts (each one the event loop waits for); restores the idle limit after."""
    calls: list[int] = []
    start = WorkerThread.start

    def counted(self: WorkerThread) -> None:
        calls.append(1)
        start(self)

    monkeypatch.setattr(WorkerThread, "start", counted)
    monkeypatch.setattr(WorkerThread, "MAX_IDLE_TIME", WorkerThread.MAX_IDLE_TIME)
    return calls


async def _burst() -> None:
    barrier = threading.Barrier(BURST)  # each call keeps its thread until all have one
    await asyncio.gather(*(run_in_threadpool(barrier.wait, 10.0) for _ in range(BURST)))


def _serve(app: Starlette, started: list[int]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            at_start = len(started)
            await _burst()
            return {"at_start": at_start, "in_burst": len(started) - at_start}

    return asyncio.run(main())


def test_without_prestart_a_burst_starts_threads_from_the_event_loop(started: list[int]) -> None:
    """The cause: anyio starts a worker from the loop when none is idle (so the probe below does see starts)."""
    assert _serve(Starlette(), started)["in_burst"] == BURST


def test_a_prestarted_app_starts_no_thread_during_a_burst(started: list[int]) -> None:
    """Every worker a full burst needs exists once start-up is done; none is started while requests wait."""
    app = Starlette()
    prestart(app)
    counts = _serve(app, started)
    assert counts == {"at_start": BURST, "in_burst": 0}


def test_prestarted_workers_are_never_retired_for_idleness(started: list[int]) -> None:
    """anyio ends workers idle for 10 s, and the next burst would start them again; a served app keeps them."""
    app = Starlette()
    prestart(app)
    _serve(app, started)
    idle = WorkerThread.MAX_IDLE_TIME
    assert idle == IDLE_FOREVER


def test_a_broken_start_barrier_does_not_stop_the_server(monkeypatch: Any) -> None:
    """A box too loaded to start every worker in time still serves: start-up counts what started, raises nothing."""
    from kefu.web import threads

    monkeypatch.setattr(threads, "_START_TIMEOUT", 0.0)  # every wait times out at once: the barrier breaks

    async def go() -> int:
        return await threads.start_workers()

    assert asyncio.run(go()) < 40
