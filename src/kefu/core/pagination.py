"""Keyset (cursor) pagination shared by every list endpoint."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, TypeDecorator, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from kefu.core.errors import InvalidInput

T = TypeVar("T")
S = TypeVar("S")


class Page(BaseModel, Generic[T]):
    """One page of results and the cursor for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    """Opaque cursor from the last row's sort key."""
    raw = [{"dt": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    """Inverse of encode_cursor; rejects malformed cursors with a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidInput.said("err_core_bad_cursor") from exc
    if not isinstance(values, list) or len(values) != n:
        raise InvalidInput.said("err_core_bad_cursor")
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict):
            try:
                out.append(datetime.fromisoformat(v["dt"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput.said("err_core_bad_cursor") from exc
        elif v is None or isinstance(v, int | str | float):
            out.append(v)
        else:
            raise InvalidInput.said("err_core_bad_cursor")
    return out


def _typed(value: Any, col: InstrumentedAttribute[Any]) -> Any:
    """A cursor value checked against its column's type: a forged cursor is a 422, not a driver error (500)."""
    sql_type = col.type
    if isinstance(sql_type, TypeDecorator):  # e.g. UTCDateTime reports `object`; its impl knows the real type
        sql_type = sql_type.impl_instance
    try:
        expected = sql_type.python_type
    except NotImplementedError:
        return value
    ok = value is not None and not isinstance(value, bool)
    if expected is datetime:
        ok = ok and isinstance(value, datetime)
        if ok and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    elif expected is int:
        ok = ok and isinstance(value, int) and -(2**63) <= value < 2**63
    elif expected is float:
        ok = ok and isinstance(value, int | float)
    elif expected is str:
        ok = ok and isinstance(value, str)
    if not ok:
        raise InvalidInput.said("err_core_bad_cursor")
    return value


def keyset_page(
    session: Session,
    stmt: Select[S],
    sort_col: InstrumentedAttribute[Any],
    id_col: InstrumentedAttribute[Any],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> tuple[list[S], str | None]:
    """Fetch one page ordered by (sort_col, id) using a seek predicate instead of OFFSET."""
    if cursor:
        sort_val, id_val = (_typed(v, c) for v, c in zip(decode_cursor(cursor, 2), (sort_col, id_col), strict=True))
        if descending:
            stmt = stmt.where(or_(sort_col < sort_val, and_(sort_col == sort_val, id_col < id_val)))
        else:
            stmt = stmt.where(or_(sort_col > sort_val, and_(sort_col == sort_val, id_col > id_val)))
    order = (sort_col.desc(), id_col.desc()) if descending else (sort_col.asc(), id_col.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, sort_col.key), getattr(last, id_col.key)])
    return rows, next_cursor
