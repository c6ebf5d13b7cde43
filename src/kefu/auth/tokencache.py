"""Per-process cache of bearer token → principal for a few seconds, so most API requests authenticate without SQL.

An entry lives at most `Settings.token_cache_seconds` (and never past the token's own expiry). Revoking a token,
deactivating an agent, changing their password, role or brands announces `auth.revoked` (kefu.auth.service): this
process drops the matching entries right after the commit, and every other process when the event reaches it over
the bus (`on_event`, registered by the web app). A principal read from the database before a revocation is not
stored after it (`generation`). While the Redis bus is interrupted this process caches nothing (every request reads
the database, so another process's revocation applies at once) and it starts afresh when the bus is back
(kefu.core.events.BUS_INTERRUPTED / BUS_RESUMED). What is left to the time-to-live: a change made behind the
service's back (raw SQL), or a bus message lost while the bus looked healthy: at most those seconds of the old
principal.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime
from typing import Any

from kefu.auth.permissions import Principal
from kefu.core.db import utcnow
from kefu.core.events import BUS_INTERRUPTED, BUS_RESUMED

REVOKED_EVENT = "auth.revoked"  # kefu.auth.service announces revocations under this type
_MAX_ENTRIES = 10_000

# token digest → (monotonic deadline, token expiry, principal without ip)
_store: dict[str, tuple[float, datetime | None, Principal]] = {}
_lock = threading.Lock()
_state = {"generation": 0, "paused": False}  # generation: bumped by every forget/clear; paused: bus interrupted
stats = {"hits": 0, "misses": 0}


def generation() -> int:
    """Read before resolving a token from the database; `store(..., since=)` refuses if a revocation came between."""
    return _state["generation"]


def lookup(digest: str, ip: str | None) -> Principal | None:
    """The cached principal for a token digest (with this request's ip), or None."""
    hit = _store.get(digest)  # a dict read is atomic: no lock on the hot path
    if hit is None:
        stats["misses"] += 1
        return None
    deadline, expires_at, principal = hit
    if time.monotonic() >= deadline or (expires_at is not None and expires_at <= utcnow()):
        with _lock:
            _store.pop(digest, None)
        stats["misses"] += 1
        return None
    stats["hits"] += 1
    return dataclasses.replace(principal, ip=ip) if principal.ip != ip else principal


def store(
    digest: str, principal: Principal, expires_at: datetime | None, seconds: float, *, since: int | None = None
) -> None:
    """Remember a freshly resolved token's principal for `seconds` (Settings.token_cache_seconds; 0: not at all).

    `since` is the `generation()` read before the database was: a revocation dropped in between (its forget ran
    while the principal was being read) would otherwise be undone by this store for the whole time-to-live.
    """
    if seconds <= 0:
        return
    with _lock:
        if _state["paused"] or (since is not None and since != _state["generation"]):
            return
        if len(_store) >= _MAX_ENTRIES:
            _store.clear()
        _store[digest] = (time.monotonic() + seconds, expires_at, principal)


def forget(topics: tuple[str, ...] | list[str]) -> None:
    """Drop entries named by revocation topics: `auth:token:<id>` one token, `auth:agent:<id>` all of an agent's."""
    tokens: set[int] = set()
    agents: set[int] = set()
    for topic in topics:
        kind, _, ident = topic.removeprefix("auth:").partition(":")
        if not ident.isdigit():
            continue
        if kind == "token":
            tokens.add(int(ident))
        elif kind == "agent":
            agents.add(int(ident))
    if not tokens and not agents:
        return
    with _lock:
        _state["generation"] += 1
        for digest, (_, _, p) in list(_store.items()):
            if p.credential_id in tokens or p.agent_id in agents:
                del _store[digest]


def on_event(event: Any) -> None:
    """Bus listener: a revocation committed in any process drops this process's matching entries.

    When the bus is interrupted, revocations made elsewhere cannot reach this process: drop everything and cache
    nothing until it is back (then drop again: what was announced meanwhile is lost).
    """
    kind = getattr(event, "type", None)
    if kind == REVOKED_EVENT:
        forget(tuple(event.topics))
    elif kind in (BUS_INTERRUPTED, BUS_RESUMED):
        clear(paused=kind == BUS_INTERRUPTED)


def clear(*, paused: bool = False) -> None:
    """Drop every entry; `paused` keeps the cache empty until the next clear() (bus interrupted)."""
    with _lock:
        _state["generation"] += 1
        _state["paused"] = paused
        _store.clear()
