"""The one way to build SQL LIKE conditions from user input: `%`, `_` and the escape character match literally.

Without escaping, `?q=0912%678` matches a masked phone number and confirms what the mask hides.
`tests/privacy/test_like_escape.py` fails when a module calls `.like(` / `.ilike(` anywhere else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

ESCAPE = "\\"


def escape_like(term: str) -> str:
    """`term` with LIKE metacharacters escaped (use with escape=ESCAPE)."""
    return term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def contains(col: Any, term: str) -> ColumnElement[bool]:
    """`col` contains `term` literally."""
    return col.like(f"%{escape_like(term)}%", escape=ESCAPE)  # type: ignore[no-any-return]


def icontains(col: Any, term: str) -> ColumnElement[bool]:
    """`col` contains `term` literally, ignoring case."""
    return func.lower(col).like(f"%{escape_like(term.lower())}%", escape=ESCAPE)


def startswith(col: Any, term: str) -> ColumnElement[bool]:
    """`col` starts with `term` literally."""
    return col.like(f"{escape_like(term)}%", escape=ESCAPE)  # type: ignore[no-any-return]


def pattern(col: Any, before: str, term: str, after: str) -> ColumnElement[bool]:
    """`col LIKE before || escaped(term) || after`, where `before`/`after` are trusted pattern pieces."""
    return col.like(f"{before}{escape_like(term)}{after}", escape=ESCAPE)  # type: ignore[no-any-return]
