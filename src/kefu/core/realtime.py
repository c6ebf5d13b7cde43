"""Per-process WebSocket fan-out hub fed by the event bus (and so by Redis across processes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any, Self

from kefu.core.events import Event

log = logging.getLogger("kefu.realtime")

QUEUE_LIMIT = 1000


def _ids_only(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, int | bool | None)}


class Topics(set[str]):
    """A subscriber's topics; while the subscriber is on a hub, changes keep the hub's topic index current."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.hub: Hub | None = None
        self.owner: Subscriber | None = None

    def _indexed(self) -> tuple[Hub, Subscriber] | None:
        return (self.hub, self.owner) if self.hub is not None and self.owner is not None else None

    def add(self, topic: str) -> None:
        """Add one topic."""
        super().add(topic)
        if (on := self._indexed()) is not None:
            on[0]._index_add(on[1], (topic,))

    def update(self, *others: Iterable[str]) -> None:
        """Add many topics."""
        new = [t for other in others for t in other]
        super().update(new)
        if (on := self._indexed()) is not None:
            on[0]._index_add(on[1], new)

    def discard(self, topic: object) -> None:
        """Remove a topic if present."""
        super().discard(topic)
        if isinstance(topic, str) and (on := self._indexed()) is not None:
            on[0]._index_remove(on[1], (topic,))

    def remove(self, topic: str) -> None:
        """Remove a topic (KeyError when absent)."""
        super().remove(topic)
        if (on := self._indexed()) is not None:
            on[0]._index_remove(on[1], (topic,))

    def clear(self) -> None:
        """Remove every topic."""
        old = list(self)
        super().clear()
        if (on := self._indexed()) is not None:
            on[0]._index_remove(on[1], old)

    def __ior__(self, other: AbstractSet[str]) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __isub__(self, other: AbstractSet[str]) -> Self:  # type: ignore[override,misc]
        for topic in list(other):
            self.discard(topic)
        return self

    def difference_update(self, *others: Iterable[object]) -> None:
        """Remove many topics."""
        for other in others:
            for topic in list(other):
                self.discard(topic)

    def intersection_update(self, *others: Iterable[object]) -> None:
        """Keep only topics also in every other."""
        keep = set(self).intersection(*others)
        self.difference_update([t for t in self if t not in keep])

    def symmetric_difference_update(self, other: Iterable[str]) -> None:
        """Not supported: it would bypass the index."""
        raise NotImplementedError

    def pop(self) -> str:
        """Remove and return an arbitrary topic."""
        topic = super().pop()
        if (on := self._indexed()) is not None:
            on[0]._index_remove(on[1], (topic,))
        return topic


@dataclass(eq=False)
class Subscriber:
    """One connected client: the topics it may see and its outgoing queue."""

    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    topics: Topics = field(default_factory=Topics)
    overflowed: bool = False
    # False: event data goes through the hub's masker (personal data masked). Fail closed: only callers that
    # checked pii:reveal (or a visitor's own conversation) set True.
    reveal: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.topics, Topics):
            self.topics = Topics(self.topics)
        self.topics.owner = self


class Hub:
    """Delivers bus events to local subscribers whose topics intersect the event's topics."""

    def __init__(self, masker: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        # Without a masker, unrevealed subscribers get ids only (no strings at all).
        self.masker = masker or _ids_only
        self._subs: set[Subscriber] = set()
        # topic -> subscribers on it: an event reaches its subscribers without scanning every connection.
        self._index: dict[str, set[Subscriber]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (called at startup)."""
        self._loop = loop

    def add(self, sub: Subscriber) -> None:
        """Register a subscriber."""
        with self._lock:
            self._subs.add(sub)
            sub.topics.hub = self
        self._index_add(sub, list(sub.topics))

    def remove(self, sub: Subscriber) -> None:
        """Unregister a subscriber."""
        with self._lock:
            self._subs.discard(sub)
            if sub.topics.hub is self:
                sub.topics.hub = None
            for topic in list(sub.topics):
                self._unindex(sub, topic)

    def _index_add(self, sub: Subscriber, topics: Iterable[str]) -> None:
        with self._lock:
            if sub not in self._subs:
                return
            for topic in topics:
                self._index.setdefault(topic, set()).add(sub)

    def _index_remove(self, sub: Subscriber, topics: Iterable[str]) -> None:
        with self._lock:
            for topic in topics:
                self._unindex(sub, topic)

    def _unindex(self, sub: Subscriber, topic: str) -> None:
        subs = self._index.get(topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._index[topic]

    @property
    def size(self) -> int:
        """Number of connected subscribers."""
        return len(self._subs)

    def on_event(self, event: Event) -> None:
        """Bus listener; may be called from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        index = self._index
        if not any(topic in index for topic in event.topics):
            # Nobody here listens (most ticket creates): skip waking the event loop, a socket write per event.
            # A lock-free membership read is atomic; a subscription racing this event could miss it either way.
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            loop.call_soon_threadsafe(self._fanout, event)

    def _fanout(self, event: Event) -> None:
        if not event.topics:
            return
        payloads: dict[bool, str] = {}
        with self._lock:
            if len(event.topics) == 1:
                subs: Iterable[Subscriber] = list(self._index.get(event.topics[0], ()))
            else:
                subs = {s for t in event.topics for s in self._index.get(t, ())}
        for sub in subs:
            payload = payloads.get(sub.reveal)
            if payload is None:
                shown = event if sub.reveal else replace(event, data=self.masker(event.data))
                payload = payloads[sub.reveal] = '{"op":"event","event":' + shown.to_json() + "}"
            try:
                sub.queue.put_nowait(payload)
            except asyncio.QueueFull:
                # A client that cannot keep up is disconnected; it resumes from its last message id.
                sub.overflowed = True
