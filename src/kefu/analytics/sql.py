"""Portable SQL pieces: seconds between timestamps and nearest-rank percentiles, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[float]):
    """`seconds_between(a, b)`: b − a in seconds, at least 0 (millisecond precision on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _pg_seconds(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    # A clock stepped back between the two writes leaves b before a: a duration, so 0, never negative (NULL stays).
    return f"CASE WHEN {b} < {a} THEN 0.0 ELSE CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS FLOAT) END"


@compiles(seconds_between)
def _sqlite_seconds(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    # julianday() is a double: round to milliseconds so exact boundaries (3600 s) stay exact. Never negative (above).
    return f"MAX(0.0, ROUND((julianday({b}) - julianday({a})) * 86400.0, 3))"


def percentiles(
    session: Session, value: ColumnElement[Any], where: list[ColumnElement[bool]], pcts: tuple[int, ...]
) -> dict[int, float | None]:
    """Nearest-rank percentiles (the smallest value with at least p% of rows at or below it), computed in the DB."""
    if session.get_bind().dialect.name == "postgresql":
        cols = [func.percentile_disc(p / 100).within_group(value) for p in pcts]
        row = session.execute(select(*cols).where(*where)).one()
        return {p: (float(v) if v is not None else None) for p, v in zip(pcts, row, strict=True)}
    ranked = (
        select(
            value.label("v"),
            func.row_number().over(order_by=value).label("rn"),
            func.count().over().label("n"),
        )
        .where(*where)
        .subquery()
    )
    out: dict[int, float | None] = {}
    for p in pcts:
        # rank = ceil(p·n/100), done in integers to avoid float rounding at exact boundaries.
        stmt: Select[Any] = select(ranked.c.v).where(ranked.c.rn * 100 >= p * ranked.c.n).order_by(ranked.c.rn)
        v = session.scalar(stmt.limit(1))
        out[p] = float(v) if v is not None else None
    return out


class local_day(FunctionElement[int]):
    """`local_day(ts, offset_seconds)`: whole days since 1970-01-01 in a fixed-offset local time."""

    type = Integer()
    inherit_cache = True
    name = "local_day"


@compiles(local_day, "postgresql")
def _pg_day(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    ts, offset = list(element.clauses)
    return (
        f"CAST(FLOOR((EXTRACT(EPOCH FROM {compiler.process(ts, **kw)}) + {compiler.process(offset, **kw)}) "
        "/ 86400) AS INTEGER)"
    )


@compiles(local_day)
def _sqlite_day(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    ts, offset = list(element.clauses)
    # Dates after 1970 are positive, so CAST truncation is floor (SQLite may lack FLOOR()).
    return (
        f"CAST((ROUND((julianday({compiler.process(ts, **kw)}) - 2440587.5) * 86400.0, 3) "
        f"+ {compiler.process(offset, **kw)}) / 86400 AS INTEGER)"
    )


class epoch_hour(FunctionElement[int]):
    """`epoch_hour(ts)`: whole hours since 1970-01-01 UTC (the key of the hourly rollups)."""

    type = Integer()
    inherit_cache = True
    name = "epoch_hour"


@compiles(epoch_hour, "postgresql")
def _pg_hour(element: epoch_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (ts,) = list(element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(ts, **kw)}) / 3600) AS INTEGER)"


@compiles(epoch_hour)
def _sqlite_hour(element: epoch_hour, compiler: SQLCompiler, **kw: Any) -> str:
    (ts,) = list(element.clauses)
    return f"CAST(ROUND((julianday({compiler.process(ts, **kw)}) - 2440587.5) * 86400.0, 3) / 3600 AS INTEGER)"
