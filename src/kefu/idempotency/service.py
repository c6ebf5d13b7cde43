"""Idempotency keys: fingerprint a request, record a create under its key, find it again, prune expired keys.

The unique (scope, route, key) constraint is the only arbiter: the key row is inserted in the create's own
transaction, so a commit means the key is recorded and a crash before it leaves neither. A retry runs the create
again and its key INSERT fails on the committed row (PostgreSQL makes a concurrent duplicate wait for the first
transaction's outcome; SQLite writers are serialized), so the retry is rolled back and replays the first.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.core.db import utcnow
from kefu.idempotency.models import IdempotencyKey

TTL = timedelta(hours=24)  # a key is kept (and replayed) at least this long; the hourly prune removes it after


def fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 of the request: method, concrete path and body (JSON canonicalized: key order and spacing ignored)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        canonical = body
    h = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    h.update(canonical)
    return h.hexdigest()


def form_fingerprint(method: str, path: str, parts: list[tuple[str, str | list[str]]]) -> str:
    """sha256 of a form request: method, path and its fields by name (a file as filename, type and content hash)."""
    ordered = sorted(parts, key=lambda p: p[0])  # stable: several values of one name (files) keep their order
    return fingerprint(method, path, json.dumps(ordered, ensure_ascii=False).encode())


def record(
    session: Session, *, scope: str, route: str, key: str, fingerprint: str, status_code: int, resource_id: int
) -> None:
    """Insert the key row in the current transaction (one statement); IntegrityError when it was committed before."""
    session.add(
        IdempotencyKey(
            scope=scope, route=route, key=key, fingerprint=fingerprint, status_code=status_code, resource_id=resource_id
        )
    )
    session.flush()


def find(session: Session, *, scope: str, route: str, key: str) -> IdempotencyKey | None:
    """The committed key row, if any."""
    return session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.scope == scope, IdempotencyKey.route == route, IdempotencyKey.key == key
        )
    ).first()


def prune(session: Session, *, now: datetime | None = None, ttl: timedelta = TTL) -> int:
    """Delete keys older than `ttl`; returns how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < (now or utcnow()) - ttl))
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


class InFlight:
    """The keys this process is handling now, so a duplicate arriving meanwhile is told to retry (409) at once.

    Only a shortcut: across processes the unique constraint still lets exactly one create commit.
    """

    def __init__(self) -> None:
        self._held: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def claim(self, token: tuple[str, ...]) -> bool:
        """True when nobody in this process holds `token` (it is now held), False for a duplicate in flight."""
        with self._lock:
            if token in self._held:
                return False
            self._held.add(token)
            return True

    def release(self, token: tuple[str, ...]) -> None:
        """Forget `token` (the request has finished)."""
        with self._lock:
            self._held.discard(token)

    def __contains__(self, token: Any) -> bool:
        return token in self._held


IN_FLIGHT = InFlight()
