"""Background jobs: named handlers, enqueued after commit, run in-process or by Redis workers (taskiq)."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.orm import Session

from kefu.core.config import Settings, get_settings
from kefu.core.db import after_commit

log = logging.getLogger("kefu.jobs")

Handler = Callable[[dict[str, Any]], None]
_registry: dict[str, Handler] = {}
TASKIQ_TASK_NAME = "kefu.run_job"
MAX_ATTEMPTS = 5


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of job `name`."""

    def deco(fn: Handler) -> Handler:
        _registry[name] = fn
        return fn

    return deco


def registered_jobs() -> dict[str, Handler]:
    """A copy of the handler registry."""
    return dict(_registry)


def run_job(name: str, payload: dict[str, Any]) -> None:
    """Execute one job by name (raises if unknown or if the handler fails)."""
    handler = _registry.get(name)
    if handler is None:
        raise LookupError(f"unknown job {name!r}")
    handler(payload)


class JobQueue(Protocol):
    """Where enqueued jobs go."""

    def enqueue(self, name: str, payload: dict[str, Any]) -> None:
        """Hand a job to the backend."""

    def start(self) -> None:
        """Begin executing jobs, if this backend executes in-process."""

    def stop(self) -> None:
        """Stop executing jobs."""


class MemoryJobQueue:
    """In-process worker thread with retry and backoff; the embedded default."""

    def __init__(self, max_attempts: int = MAX_ATTEMPTS, base_delay: float = 0.5, inline: bool = False) -> None:
        self._q: queue.Queue[tuple[str, dict[str, Any], int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._cv = threading.Condition()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.failed: list[tuple[str, dict[str, Any], str]] = []
        # inline: run in the enqueuing thread right away (tests share one connection, so no second thread may use it)
        self.inline = inline

    def enqueue(self, name: str, payload: dict[str, Any]) -> None:
        """Queue a job for the worker thread (or run it now, retrying without delay, when inline)."""
        if self.inline:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    run_job(name, payload)
                    return
                except Exception as exc:
                    log.warning("job %s failed (attempt %d): %s", name, attempt, exc)
                    last = exc
            self.failed.append((name, payload, repr(last)))
            return
        with self._cv:
            self._pending += 1
        self._q.put((name, payload, 1))
        if self._thread is None:
            self.start()

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None and not self.inline:
            self._thread = threading.Thread(target=self._work, name="kefu-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker after the current job."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued job has finished (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            name, payload, attempt = item
            try:
                run_job(name, payload)
            except Exception as exc:
                if attempt < self.max_attempts:
                    delay = self.base_delay * 2 ** (attempt - 1)
                    log.warning("job %s failed (attempt %d): %s; retrying in %.1fs", name, attempt, exc, delay)
                    timer = threading.Timer(delay, self._q.put, args=((name, payload, attempt + 1),))
                    timer.daemon = True
                    timer.start()
                    continue
                log.exception("job %s failed permanently", name)
                self.failed.append((name, payload, repr(exc)))
            with self._cv:
                self._pending -= 1
                self._cv.notify_all()


class RedisJobQueue:
    """Enqueue into a Redis stream in taskiq's wire format; `kefu worker` processes run them."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.url = url
        self.stream = f"{prefix}:jobs"
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._local: MemoryJobQueue | None = None

    def enqueue(self, name: str, payload: dict[str, Any]) -> None:
        """XADD a taskiq message (acked after it ran); with Redis down, run it in this process instead of losing it."""
        import redis
        from taskiq.message import TaskiqMessage

        msg = TaskiqMessage(
            task_id=uuid.uuid4().hex, task_name=TASKIQ_TASK_NAME, labels={}, args=[name, payload], kwargs={}
        )
        try:
            self._redis.xadd(self.stream, {b"data": msg.model_dump_json().encode()})
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("redis unavailable (%s); running job %s in-process", exc, name)
            self._fallback().enqueue(name, payload)

    def _fallback(self) -> MemoryJobQueue:
        if self._local is None:
            self._local = MemoryJobQueue()
        return self._local

    def start(self) -> None:
        """Producers run nothing locally."""

    def stop(self) -> None:
        """Close the connection pool (and finish fallback jobs)."""
        if self._local is not None:
            self._local.drain(30)
            self._local.stop()
        self._redis.close()


def make_broker(settings: Settings) -> Any:
    """taskiq RedisStreamBroker consuming kefu's job stream (used by `kefu worker`)."""
    if not settings.redis_url:
        raise ValueError("kefu worker needs KEFU_REDIS_URL")
    broker = _resilient_broker_class()(
        settings.redis_url,
        queue_name=f"{settings.redis_prefix}:jobs",
        consumer_group_name=f"{settings.redis_prefix}:workers",
        consumer_id="0",
        idle_timeout=settings.jobs_idle_timeout_ms,
        unacknowledged_lock_timeout=30,
        xread_block=1000,
        xread_count=settings.jobs_xread_count,
    )

    def _run(name: str, payload: dict[str, Any]) -> None:
        run_job(name, payload)

    broker.register_task(_run, task_name=TASKIQ_TASK_NAME)
    return broker


def _resilient_broker_class() -> Any:
    """RedisStreamBroker that survives Redis restarts: re-creates its consumer group and backs off while down."""
    import asyncio

    import redis
    from taskiq_redis import RedisStreamBroker

    class ResilientStreamBroker(RedisStreamBroker):
        async def listen(self) -> Any:
            backoff = 0.2
            while True:
                try:
                    async for message in super().listen():
                        backoff = 0.2
                        yield message
                except redis.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    # Redis came back empty: the stream and group are gone, so declare them again.
                    log.warning("job stream consumer group missing; re-creating it")
                    await self._declare_consumer_group()
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    log.warning("redis unavailable for jobs (%s); retrying in %.1fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    try:
                        await self._declare_consumer_group()
                    except Exception:  # still down: the next listen() attempt will report it
                        log.debug("consumer group not declared yet", exc_info=True)

    return ResilientStreamBroker


async def run_worker(settings: Settings, concurrency: int = 4) -> None:
    """Consume jobs from Redis until cancelled."""
    from taskiq.acks import AcknowledgeType
    from taskiq.api import run_receiver_task

    broker = make_broker(settings)
    await broker.startup()
    try:
        await run_receiver_task(
            broker,
            sync_workers=concurrency,
            max_async_tasks=concurrency,
            ack_time=AcknowledgeType.WHEN_EXECUTED,
        )
    finally:
        await broker.shutdown()


_queue: JobQueue | None = None
_queue_lock = threading.Lock()


def make_queue(settings: Settings) -> JobQueue:
    """Build the configured job backend."""
    if settings.effective_jobs_backend == "redis":
        if not settings.redis_url:
            raise ValueError("KEFU_JOBS_BACKEND=redis needs KEFU_REDIS_URL")
        return RedisJobQueue(settings.redis_url, settings.redis_prefix)
    return MemoryJobQueue()


def get_queue() -> JobQueue:
    """Process-wide job queue."""
    global _queue
    with _queue_lock:
        if _queue is None:
            _queue = make_queue(get_settings())
        return _queue


def set_queue(q: JobQueue | None) -> None:
    """Replace the process-wide queue (tests, startup)."""
    global _queue
    with _queue_lock:
        _queue = q


def enqueue(session: Session, name: str, payload: dict[str, Any]) -> None:
    """Enqueue a job once the session commits (never for rolled-back work)."""
    after_commit(session, lambda: get_queue().enqueue(name, payload))
