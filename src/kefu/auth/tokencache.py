"""Per-process cache of bearer token → principal for a few seconds, so most API requests authenticate without SQL.

An entry lives at most `Settings.token_cache_seconds` (and never past the token's own expiry). Revoking a token,
deactivating an agent, changing their password, role or brands announces `auth.revoked` (kefu.auth.service): this
process drops the matching entries right after the commit, and every other process when the event reaches it over
the bus (`on_event`, registered by the web app). That time-to-live bounds what a lost bus message or a change made
behind the service's back (raw SQL) can leave: at most those seconds of the old principal.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime
from typing import Any

from kefu.auth.permissions import Principal
from kefu.core.db import utcnow

REVOKED_EVENT = "auth.revoked"  # kefu.auth.service announces revocations under this type
_MAX_ENTRIES = 10_000

# token digest → (monotonic deadline, token expiry, principal without ip)
_store: dict[str, tuple[float, datetime | None, Principal]] = {}
_lock = threading.Lock()
stats = {"hits": 0, "misses": 0}


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


def store(digest: str, principal: Principal, expires_at: datetime | None, seconds: float) -> None:
    """Remember a freshly resolved token's principal for `seconds` (Settings.token_cache_seconds; 0: not at all)."""
    if seconds <= 0:
        return
    with _lock:
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
        for digest, (_, _, p) in list(_store.items()):
            if p.credential_id in tokens or p.agent_id in agents:
                del _store[digest]


def on_event(event: Any) -> None:
    """Bus listener: a revocation committed in any process drops this process's matching entries."""
    if getattr(event, "type", None) == REVOKED_EVENT:
        forget(tuple(event.topics))


def clear() -> None:
    """Drop every entry (tests)."""
    with _lock:
        _store.clear()
