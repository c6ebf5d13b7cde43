"""Problem+json texts in the reader's language: pydantic's validation messages and the 503 outage detail."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kefu.web.i18n import LOCALES, translator

# pydantic error type → catalog key (placeholders: the error's ctx, e.g. {max_length}); `type` itself never changes.
_KEYS = {
    "missing": "pv_missing",
    "string_too_short": "pv_string_too_short",
    "string_too_long": "pv_string_too_long",
    "too_short": "pv_too_short",
    "too_long": "pv_too_long",
    "string_type": "pv_string_type",
    "string_unicode": "pv_string_type",
    "int_parsing": "pv_int",
    "int_type": "pv_int",
    "int_from_float": "pv_int",
    "int_parsing_size": "pv_int_size",
    "float_parsing": "pv_number",
    "float_type": "pv_number",
    "decimal_parsing": "pv_number",
    "decimal_type": "pv_number",
    "finite_number": "pv_number",
    "bool_parsing": "pv_bool",
    "bool_type": "pv_bool",
    "greater_than": "pv_greater_than",
    "greater_than_equal": "pv_greater_than_equal",
    "less_than": "pv_less_than",
    "less_than_equal": "pv_less_than_equal",
    "literal_error": "pv_choice",
    "enum": "pv_choice",
    "string_pattern_mismatch": "pv_pattern",
    "value_error": "pv_value_error",
    "assertion_error": "pv_value_error",
    "json_invalid": "pv_json_invalid",
    "json_type": "pv_object",
    "dict_type": "pv_object",
    "model_type": "pv_object",
    "model_attributes_type": "pv_object",
    "list_type": "pv_list",
    "extra_forbidden": "pv_extra_forbidden",
    "datetime_parsing": "pv_datetime",
    "datetime_type": "pv_datetime",
    "datetime_from_date_parsing": "pv_datetime",
    "date_parsing": "pv_date",
    "date_type": "pv_date",
    "date_from_datetime_parsing": "pv_date",
    "date_from_datetime_inexact": "pv_date",
    "timezone_aware": "pv_timezone",
    "url_parsing": "pv_url",
    "url_type": "pv_url",
    "url_scheme": "pv_url",
    "uuid_parsing": "pv_uuid",
    "uuid_type": "pv_uuid",
}
# The English of these carries the validator's own reason ("Value error, Give exactly one of …"): an English reader
# keeps it; the Chinese catalogs say it in their words without the English reason.
_FREE_TEXT = frozenset({"value_error", "assertion_error"})
_CHOICE = re.compile(r"'((?:[^'\\]|\\.)*)'|([^\s,']+)")


def _choices(expected: str, sep: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as the reader lists them ("a、b、c")."""
    items = [quoted or bare for quoted, bare in _CHOICE.findall(expected) if (quoted or bare) != "or"]
    return sep.join(items) if items else expected


def validation_message(error: Mapping[str, Any], locale: str | None) -> str:
    """One pydantic error's `msg` in `locale` (None: pydantic's English, as API clients have always read it)."""
    msg = str(error.get("msg", ""))
    kind = str(error.get("type", ""))
    if locale not in LOCALES or (locale == "en" and (kind in _FREE_TEXT or kind not in _KEYS)):
        return msg
    t = translator(str(locale))
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    if "expected" in ctx:
        ctx["expected"] = _choices(ctx["expected"], t["pv_or"])
    try:
        return t[_KEYS.get(kind, "pv_invalid")].format(**ctx)
    except (KeyError, IndexError):  # a ctx without the value the text names: the text without it
        return t["pv_invalid"]


def validation_errors(errors: Sequence[Mapping[str, Any]], locale: str | None) -> list[dict[str, Any]]:
    """The 422 body's `errors`: `loc` and `type` as pydantic gives them, `msg` in the reader's language."""
    return [
        {"loc": list(e.get("loc", ())), "msg": validation_message(e, locale), "type": str(e.get("type", ""))}
        for e in errors
    ]


def validation_detail(count: int, locale: str | None) -> str:
    """The 422 summary."""
    if locale not in LOCALES:
        return "The request did not validate."
    return translator(str(locale))["pv_detail"].format(n=count)


def outage_reason(exc: BaseException | None) -> str:
    """Why the service cannot serve now: "timeout" (a statement cancelled), "busy" (a lock or pool wait ran out),
    "storage" (the file store is full or read-only) or "down" (the database unreachable, a dropped connection)."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from kefu.core.errors import is_storage_error

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if is_storage_error(exc):
            return "storage"
        code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
        if code == "57014":  # query_canceled: statement_timeout
            return "timeout"
        if code == "55P03" or isinstance(exc, PoolTimeout):  # lock_not_available; every pooled connection in use
            return "busy"
        if "database is locked" in str(getattr(exc, "orig", None) or exc):  # SQLite: the writer's turn ran out
            return "busy"
        exc = exc.__cause__ or exc.__context__
    return "down"


def outage_detail(exc: BaseException | None, locale: str | None, seconds: int) -> str:
    """The 503 detail: what is wrong and when to retry, in `locale` (None: English)."""
    t = translator(str(locale) if locale in LOCALES else "en")
    return t[f"unavail_{outage_reason(exc)}"].format(seconds=seconds)


def plain_text(key: str, locale: str | None) -> str:
    """A catalog text without placeholders in `locale` (None: English)."""
    return translator(str(locale) if locale in LOCALES else "en")[key]
