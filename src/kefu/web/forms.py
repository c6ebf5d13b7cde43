"""Form values for pages: bad input is a 422 (never a 500), and its field errors are told in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from kefu.core.errors import InvalidInput


async def posted_form(request: Request) -> FormData:
    """The request's form, read on the event loop (body I/O), so the handler itself can be a plain `def`.

    A handler that takes the DB session runs in the thread pool (FastAPI does this for a sync `def`): reading the
    form is the only reason such a handler was `async`, and then its queries ran on the event loop and stalled every
    other request of the process (tests/web/test_async_routes.py). Starlette caches the form, so `Form()`
    parameters of the same route parse nothing twice.
    """
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses


def optional_int(raw: str | None, field: str) -> int | None:
    """An id-like form value: empty means None, anything but 1-18 ASCII digits is a 422."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not _INT.fullmatch(value):
        raise InvalidInput.said("err_web_not_whole_number", field=field)
    return int(value)


def lenient_int(raw: object) -> int | None:
    """A number from a query string or form where junk simply means 'not given'."""
    value = str(raw).strip() if raw is not None else ""
    return int(value) if _INT.fullmatch(value) else None


def lenient_date(raw: object) -> date | None:
    """A date (YYYY-MM-DD) from a query string or form where junk simply means 'not given'."""
    value = str(raw).strip() if raw is not None else ""
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        return None


# pydantic error types → the string-table key of the message shown next to the field (kefu.web.errors).
_FIELD_MESSAGES = {
    "missing": "fe_missing",
    "string_too_short": "fe_too_short",
    "too_short": "fe_missing",
    "string_too_long": "fe_too_long",
    "too_long": "fe_too_many",
    "int_parsing": "fe_number",
    "int_type": "fe_number",
    "int_from_float": "fe_number",
    "literal_error": "fe_choice",
    "enum": "fe_choice",
    "string_pattern_mismatch": "fe_choice",
}


def field_errors(errors: Sequence[Mapping[str, Any]], t: Mapping[str, str]) -> dict[str, str]:
    """Request-validation errors as form field name → message in the reader's language (first error per field)."""
    out: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        if len(loc) < 2 or loc[0] not in ("body", "query"):
            continue
        name = loc[1]
        ctx = error.get("ctx") or {}
        key = _FIELD_MESSAGES.get(str(error.get("type", "")), "fe_invalid")
        limit = ctx.get("min_length") or ctx.get("max_length") or ctx.get("le") or ""
        out.setdefault(name, t[key].format(n=limit))
    return out
