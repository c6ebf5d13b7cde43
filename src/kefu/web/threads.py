"""A served process's worker threads, all started before it accepts a request and kept (issue #21).

Sync routes and `run_in_threadpool` run on anyio's worker threads. anyio starts a thread only when none is idle,
from the event loop itself, and `Thread.start` waits until the new thread has run: for the GIL, behind every busy
thread (30 starts took 60 ms on an idle 2-core box, 730 ms beside 16 busy threads). It also ends threads idle for
10 s, so a burst after a quiet spell started them again: `benchmarks/sqlite_tail.py --trace` caught the loop in
`Thread.start` for 80-170 ms once per round. Starting the whole pool at start-up and keeping it moves that wait
out of the requests' way; 40 idle threads cost their stacks' touched pages only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette

_START_TIMEOUT = 30.0  # seconds a started worker waits for the rest (a loaded box starts them slowly)
IDLE_FOREVER = 10**9  # seconds (32 years): anyio's idle limit for a served process's workers


def keep_workers() -> None:
    """Never retire idle worker threads (anyio ends those idle for 10 s; restarting them stalls the loop)."""
    # anyio has no public setting for this; a test (tests/web/test_threads.py) fails if the attribute goes away.
    from anyio._backends._asyncio import WorkerThread

    WorkerThread.MAX_IDLE_TIME = IDLE_FOREVER


async def start_workers() -> int:
    """Start as many worker threads as the default limiter allows, now, in the running loop; the count started."""
    count = int(to_thread.current_default_thread_limiter().total_tokens)
    barrier = threading.Barrier(count)  # each call holds its thread until all have one: `count` distinct threads
    results = await asyncio.gather(*(to_thread.run_sync(_wait, barrier) for _ in range(count)), return_exceptions=True)
    # A box too loaded to start them all in time serves anyway: the rest start on demand, as without prestart.
    return sum(1 for r in results if r is True)


def _wait(barrier: threading.Barrier) -> bool:
    """Hold this worker thread until all have one; False when the barrier broke (timeout on a loaded box)."""
    try:
        barrier.wait(_START_TIMEOUT)
    except threading.BrokenBarrierError:
        return False
    return True


def prestart(app: Starlette) -> None:
    """Make `app`'s lifespan start the worker threads (and keep them) before the app's own start-up runs."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        keep_workers()
        await start_workers()
        async with inner(app) as state:
            yield state

    app.router.lifespan_context = lifespan
