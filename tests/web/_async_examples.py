"""Handlers written the wrong and the right way, for the checker in test_async_routes.py."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool

from kefu.core.db import get_database


async def bad(db: Any) -> Any:
    """A query on the event loop."""
    return db.get(1)


async def good(db: Any) -> Any:
    """The query in the thread pool."""

    def work() -> Any:
        return db.get(1)

    return await run_in_threadpool(work)


async def good_lambda(db: Any) -> Any:
    """The query in the thread pool, through a lambda."""
    return await run_in_threadpool(lambda: db.get(1))


async def sneaky(db: Any) -> Any:
    """Handed to the pool once, then called on the loop too."""

    def work() -> Any:
        return db.get(1)

    await run_in_threadpool(work)
    return work()


async def helper(session: Any) -> Any:
    """An async helper querying on the loop."""
    return session.get(1)


async def via_helper(db: Any) -> Any:
    """Passes the session to a helper that queries on the loop."""
    return await helper(db)


async def own_session() -> Any:
    """Opens its own unit of work on the loop."""
    with get_database().session() as s:
        return s.get(Any, 1)
