"""Domain event bus: events are published after commit, in-process or through Redis pub/sub."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from kefu.core import runtime
from kefu.core.config import Settings
from kefu.core.db import after_commit, utcnow

log = logging.getLogger("kefu.events")


@dataclass(frozen=True)
class Event:
    """A domain event; topics say who may be interested (e.g. 'conversation:12', 'brand:1')."""

    type: str
    data: dict[str, Any]
    topics: tuple[str, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_json(self) -> str:
        """Wire format shared by the Redis bus and WebSocket clients."""
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Inverse of to_json."""
        d = json.loads(raw)
        return cls(type=d["type"], data=d["data"], topics=tuple(d.get("topics", ())), id=d["id"], at=d["at"])


Listener = Callable[[Event], None]

# Local-only events (no topics) a bus dispatches to this process's listeners when it loses, and when it regains,
# delivery from other processes: what they published in between never arrives (kefu.auth.tokencache reacts).
BUS_INTERRUPTED = "bus.interrupted"
BUS_RESUMED = "bus.resumed"


class Bus(Protocol):
    """Publishes events to every listener in every process."""

    def publish(self, event: Event) -> None:
        """Deliver an event (already committed) to all listeners."""

    def add_listener(self, listener: Listener) -> None:
        """Register a local listener (called from arbitrary threads)."""

    def remove_listener(self, listener: Listener) -> None:
        """Unregister a local listener."""

    def start(self) -> None:
        """Start background delivery (no-op for in-process)."""

    def stop(self) -> None:
        """Stop background delivery."""


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def dispatch(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed for %s", event.type)


class MemoryBus(_Listeners):
    """Single-process bus: publish calls listeners directly."""

    def publish(self, event: Event) -> None:
        """Deliver to local listeners."""
        self.dispatch(event)

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


# A PUBLISH runs in the request thread after its commit: a Redis that hangs (stopped, a black-holed network) must
# cost one request about a second, not every request five seconds per event. After a failure the bus delivers
# locally without trying Redis for PUBLISH_PAUSE_SECONDS (or until the subscriber is back).
PUBLISH_TIMEOUT_SECONDS = 1.0
PUBLISH_PAUSE_SECONDS = 5.0


class RedisBus(_Listeners):
    """Multi-process bus over Redis pub/sub; each process re-dispatches to its own listeners."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        import redis

        self.url = url
        self.channel = f"{prefix}:events"
        self._redis = redis.Redis.from_url(
            url, socket_timeout=PUBLISH_TIMEOUT_SECONDS, socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS
        )
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._up: bool | None = None  # the subscriber's last state: None before its first attempt
        self._down_until = 0.0  # monotonic time before which PUBLISH is not tried (Redis failed just now)

    def publish(self, event: Event) -> None:
        """PUBLISH to Redis; if Redis is down or hangs, degrade to local delivery so this process keeps working."""
        if time.monotonic() < self._down_until:
            self.dispatch(event)
            return
        try:
            self._redis.publish(self.channel, event.to_json())
        except Exception as exc:  # redis.ConnectionError, TimeoutError and friends
            self._down_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            log.warning("redis publish failed (%s); delivering locally only for %.0fs", exc, PUBLISH_PAUSE_SECONDS)
            self.dispatch(event)

    def start(self) -> None:
        """Start the subscriber thread and wait until it is subscribed (bounded)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="kefu-redis-bus", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=5)

    def stop(self) -> None:
        """Stop the subscriber thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        import redis

        backoff = 0.2
        while not self._stopping.is_set():
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=5, health_check_interval=10)
                pubsub = client.pubsub()  # type: ignore[no-untyped-call,unused-ignore]
                pubsub.subscribe(self.channel)
                backoff = 0.2
                while not self._stopping.is_set():
                    msg = pubsub.get_message(timeout=0.5)
                    if msg and msg.get("type") == "subscribe":
                        # Confirmed: Redis delivers every later PUBLISH to us; what came before is lost.
                        if self._up is False:
                            log.warning("redis bus subscriber resumed; events published while it was down are lost")
                            self.dispatch(Event(type=BUS_RESUMED, data={}))
                        self._up = True
                        self._down_until = 0.0  # Redis answers again: publish through it at once
                        self._ready.set()
                    elif msg and msg.get("type") == "message":
                        try:
                            event = Event.from_json(msg["data"])
                        except (ValueError, KeyError):
                            log.warning("dropping malformed bus message")
                            continue
                        self.dispatch(event)
                pubsub.close()
                client.close()
            except Exception as exc:
                if self._up is not False:
                    self._up = False
                    self.dispatch(Event(type=BUS_INTERRUPTED, data={"error": str(exc)}))
                    self._ready.set()  # start() need not wait out its timeout: the outage is known
                log.warning("redis bus subscriber error (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


def make_bus(settings: Settings) -> Bus:
    """Build the configured bus backend."""
    if settings.effective_bus_backend == "redis":
        if not settings.redis_url:
            raise ValueError("KEFU_BUS_BACKEND=redis needs KEFU_REDIS_URL")
        return RedisBus(settings.redis_url, settings.redis_prefix)
    return MemoryBus()


BUS: runtime.Slot[Bus] = runtime.Slot("bus", make_bus)


def get_bus() -> Bus:
    """The process's bus (the wired one, else the configured backend built on first use)."""
    return runtime.get(BUS)


def publish(session: Session, type_: str, data: dict[str, Any], topics: tuple[str, ...] = ()) -> Event:
    """Queue a domain event to be published once the session commits."""
    event = Event(type=type_, data=data, topics=topics)
    after_commit(session, lambda: get_bus().publish(event))
    return event
