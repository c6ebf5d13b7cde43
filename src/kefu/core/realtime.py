"""Per-process WebSocket fan-out hub fed by the event bus (and so by Redis across processes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kefu.core.events import Event

log = logging.getLogger("kefu.realtime")

QUEUE_LIMIT = 1000


def _ids_only(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, int | bool | None)}


@dataclass(eq=False)
class Subscriber:
    """One connected client: the topics it may see and its outgoing queue."""

    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    topics: set[str] = field(default_factory=set)
    overflowed: bool = False
    # False: event data goes through the hub's masker (personal data masked). Fail closed: only callers that
    # checked pii:reveal (or a visitor's own conversation) set True.
    reveal: bool = False


class Hub:
    """Delivers bus events to local subscribers whose topics intersect the event's topics."""

    def __init__(self, masker: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        # Without a masker, unrevealed subscribers get ids only (no strings at all).
        self.masker = masker or _ids_only
        self._subs: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (called at startup)."""
        self._loop = loop

    def add(self, sub: Subscriber) -> None:
        """Register a subscriber."""
        with self._lock:
            self._subs.add(sub)

    def remove(self, sub: Subscriber) -> None:
        """Unregister a subscriber."""
        with self._lock:
            self._subs.discard(sub)

    @property
    def size(self) -> int:
        """Number of connected subscribers."""
        return len(self._subs)

    def on_event(self, event: Event) -> None:
        """Bus listener; may be called from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(self._fanout, event)

    def _fanout(self, event: Event) -> None:
        if not event.topics:
            return
        payloads: dict[bool, str] = {}
        topics = set(event.topics)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.topics & topics:
                payload = payloads.get(sub.reveal)
                if payload is None:
                    shown = event if sub.reveal else replace(event, data=self.masker(event.data))
                    payload = payloads[sub.reveal] = '{"op":"event","event":' + shown.to_json() + "}"
                try:
                    sub.queue.put_nowait(payload)
                except asyncio.QueueFull:
                    # A client that cannot keep up is disconnected; it resumes from its last message id.
                    sub.overflowed = True
