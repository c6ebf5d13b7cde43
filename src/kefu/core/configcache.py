"""Per-process cache of rarely-changing per-brand configuration, invalidated through a version row per brand.

Every flush that inserts, changes or deletes a watched row (a model registered with `watch`) writes a new random
token into `config_versions` for that brand, in the same transaction. A read asks the database for the tokens once
per transaction (one small query, whatever the number of cached items used) and reuses a cached value only when its
token matches: a change committed by any process, through the API, the console or a job, takes effect at the next
transaction everywhere, without a bus and without a time-to-live. Random tokens instead of counters keep a table
that was emptied and refilled (tests, restores) from ever matching an old entry.

Values are built from the session that asks, so they must be plain immutable data (never ORM instances). A
transaction that changed watched rows bypasses the cache, so uncommitted configuration is never cached.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kefu.core.db import database_key, run_first_read
from kefu.core.models import ConfigVersion

T = TypeVar("T")

_TOKENS = "kefu_config_tokens"  # session.info: (transaction, {brand_id: token}, database key)
_MAX_ENTRIES = 4096


_watched: dict[type[Any], str] = {}
_store: dict[tuple[str, str, int], tuple[int | None, Any]] = {}
_lock = threading.Lock()
stats = {"hits": 0, "misses": 0}


def watch(model: type[Any], brand_attr: str = "brand_id") -> None:
    """Changes to `model` rows invalidate the cached configuration of the brand named by `brand_attr`."""
    _watched[model] = brand_attr


def clear() -> None:
    """Drop every cached value (tests; never needed for correctness)."""
    with _lock:
        _store.clear()


_READ_TOKENS = select(ConfigVersion.__table__.c.brand_id, ConfigVersion.__table__.c.version)  # built once


def _tx(session: Session) -> Any:
    if not session.in_transaction():
        session.connection()  # start the transaction the tokens belong to
    return session.get_transaction()


def _tokens(session: Session) -> tuple[dict[int, int], str]:
    """The transaction's tokens by brand, and its database's key (both read once per transaction)."""
    tx = _tx(session)
    memo = session.info.get(_TOKENS)
    if memo is not None and memo[0] is tx:
        return memo[1], memo[2]
    session._autoflush()  # as session.execute does: pending changes bump their brands' tokens first
    # On the connection (Core): the ORM's execution layer adds nothing to a two-column read but CPU. Usually the
    # transaction's first statement: on PostgreSQL it then carries the BEGIN (kefu.core.db.run_first_read).
    conn = session.connection()
    tokens = {int(b): int(v) for b, v in run_first_read(conn, _READ_TOKENS)}
    where = database_key(conn.engine)
    session.info[_TOKENS] = (tx, tokens, where)
    return tokens, where


def cached(session: Session, brand_id: int, name: str, load: Callable[[], T]) -> T:
    """`load()`'s value for this brand, reused while the brand's configuration is unchanged."""
    tokens, where = _tokens(session)
    token = tokens.get(brand_id)
    key = (where, name, brand_id)
    with _lock:
        hit = _store.get(key)
    if hit is not None and hit[0] == token:
        stats["hits"] += 1
        value: T = hit[1]
        return value
    stats["misses"] += 1
    value = load()  # read after the token: the value is at least as new as the token it is stored under
    with _lock:
        if len(_store) >= _MAX_ENTRIES:
            _store.clear()
        _store[key] = (token, value)
    return value


def _changed_brands(session: Session) -> set[int]:
    brands: set[int] = set()
    if not _watched:
        return brands
    for obj in (*session.new, *session.dirty, *session.deleted):
        attr = _watched.get(type(obj))
        if attr is None or (obj in session.dirty and not session.is_modified(obj)):
            continue
        brand_id = getattr(obj, attr, None)
        if brand_id is not None:
            brands.add(int(brand_id))
    return brands


def touch(session: Session, brand_ids: Iterable[int]) -> None:
    """Invalidate brands' cached configuration (for bulk Core statements, which bypass the flush hook)."""
    brands = set(brand_ids)
    if not brands:
        return
    session.info.pop(_TOKENS, None)  # this transaction now reads its own new tokens
    conn = session.connection()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for brand_id in sorted(brands):  # a fixed order, so two writers never lock version rows crosswise
        stmt = insert(ConfigVersion).values(brand_id=brand_id, version=secrets.randbits(62))
        conn.execute(stmt.on_conflict_do_update(index_elements=["brand_id"], set_={"version": stmt.excluded.version}))


@event.listens_for(Session, "after_flush")
def _bump(session: Session, _ctx: Any) -> None:
    touch(session, _changed_brands(session))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_TOKENS, None)
