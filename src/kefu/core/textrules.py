"""One rule for control characters in stored text, the same on SQLite and PostgreSQL: C0 controls other than
tab, newline and carriage return are dropped from every value written or compared.

PostgreSQL refuses NUL in text (and `\\u0000` in jsonb) while SQLite stores it, so the same request used to be a 201
on one and a 422 on the other. Checking each schema, form and channel adapter (HTTP, email, LINE, Messenger, widget,
board, portal, jobs) would leave the next new path unchecked; every one of them reaches the database through a
cursor, so the rule is applied there, once, to all statement parameters (ORM and Core alike). JSON values are
cleaned before they are serialized (`json_dumps`, the engines' JSON serializer, and psycopg's JSON wrappers); a text
parameter is never parsed as JSON: a JSON snippet typed into a text field is stored as written.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, event

_C0 = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PLAIN: frozenset[type] = frozenset(
    {int, float, bool, type(None), bytes, Decimal, UUID, datetime, date, time, timedelta}
)  # parameter types with no text in them
_JSON_C0_ESCAPE = re.compile(r"\\(u00[01][0-9a-fA-F]|[bf])")


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> bool:
    """Whether a string in `value` holds a lone UTF-16 surrogate (JSON's `\\ud800` unpaired): no database, file or
    provider can encode it, so a body carrying one is refused where it is parsed."""
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(lone_surrogate(k) or lone_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(lone_surrogate(v) for v in value)
    return False


def strict_json(body: bytes | str) -> Any:
    """A request body's JSON under the rules every value must meet to be stored and answered: UTF-8, no NaN or
    Infinity (not JSON; no JSON column nor response can hold them), no lone surrogate. Else json.JSONDecodeError,
    which the web layer answers as its other malformed bodies (422, `json_invalid`, in the reader's language)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError("not UTF-8", body.decode("utf-8", "replace"), exc.start) from None
    else:
        text = body

    def constant(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not JSON", text, 0)

    value = json.loads(text, parse_constant=constant)
    # A surrogate reaches the value only through a \uD800-\uDFFF escape (UTF-8 cannot encode one: the decode above
    # fails first) or, in a str the caller decoded, as the character itself; without either the walk finds nothing.
    maybe = "\\ud" in text or "\\uD" in text
    if not maybe and isinstance(body, str) and not text.isascii():
        maybe = _SURROGATE.search(text) is not None
    if maybe and lone_surrogate(value):
        raise json.JSONDecodeError("lone surrogate", text, 0)
    return value


def clean_text(value: str) -> str:
    """`value` without C0 control characters (tab, newline and carriage return kept)."""
    return _C0.sub("", value) if _C0.search(value) else value


def clean_value(value: Any) -> Any:
    """`value` with clean_text applied to every string in it (dicts, lists, tuples)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_value(v) for v in value)
    return value


try:  # psycopg 3 passes JSON(B) parameters as wrappers holding the Python value, serialized by the driver
    from psycopg.types.json import Json, Jsonb

    _JSON_WRAPPERS: tuple[type[Any], ...] = (Json, Jsonb)
except ImportError:  # pragma: no cover - SQLite-only installs
    _JSON_WRAPPERS = ()


def json_dumps(obj: Any) -> str:
    """`obj` as stored JSON text (CJK kept readable for LIKE searches), its strings cleaned while the rule is on."""
    text = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    if _JSON_C0_ESCAPE.search(text) and installed():  # json.dumps escapes every control character: only then clean
        return json.dumps(clean_value(obj), ensure_ascii=False, separators=(", ", ": "))
    return text


def _clean_param(value: Any) -> Any:
    # Only parameters `_clean_params` found dirty get here. A string is text, never parsed as JSON (a JSON column's
    # value was cleaned by json_dumps before it became a string); psycopg's JSON wrappers are cleaned inside.
    if _JSON_WRAPPERS and isinstance(value, _JSON_WRAPPERS):
        return type(value)(clean_value(value.obj), value.dumps)
    return clean_value(value)


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    if executemany and isinstance(parameters, (list, tuple)):
        return statement, type(parameters)(_clean_params(p) for p in parameters)
    return statement, _clean_params(parameters)


def _dirty(value: Any) -> bool:
    """Whether `_clean_param` would change `value`: checked without copying anything."""
    if type(value) in _PLAIN:
        return False
    if isinstance(value, str):
        return _C0.search(value) is not None
    if isinstance(value, dict):
        return any(_dirty(k) or _dirty(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_dirty(v) for v in value)
    if _JSON_WRAPPERS and isinstance(value, _JSON_WRAPPERS):
        return _dirty(value.obj)
    return False


def _clean_params(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        values: Any = parameters.values()
    elif isinstance(parameters, (list, tuple)):
        values = parameters
    else:
        return parameters
    # Nearly every statement has nothing to clean: it gets its own parameters back, with no copy made. The loop is
    # inline (no call per parameter) because it runs for every statement.
    search = _C0.search
    for v in values:
        kind = type(v)
        if kind is str:
            if search(v) is None:
                continue
            break
        if kind in _PLAIN:
            continue
        if _dirty(v):
            break
    else:
        return parameters
    if isinstance(parameters, dict):
        return {k: _clean_param(v) for k, v in parameters.items()}
    return type(parameters)(_clean_param(v) for v in parameters)


def installed() -> bool:
    """Whether the rule is on: its listener is installed (the one source of truth; no module flag to keep in step)."""
    return event.contains(Engine, "before_cursor_execute", _before_cursor_execute)


def install_text_rule() -> None:
    """Apply the rule on every engine (class-level listener: engines made before or after this call); idempotent."""
    if not installed():
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute, retval=True)
