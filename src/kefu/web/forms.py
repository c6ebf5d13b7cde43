"""Parsing of hand-read form and query values for pages: bad input is a 422, never a ValueError (500)."""

from __future__ import annotations

import re

from kefu.core.errors import InvalidInput

_INT = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also accepts '²', which int() refuses


def optional_int(raw: str | None, field: str) -> int | None:
    """An id-like form value: empty means None, anything but 1-18 ASCII digits is a 422."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not _INT.fullmatch(value):
        raise InvalidInput(f"{field} must be a whole number.")
    return int(value)


def lenient_int(raw: object) -> int | None:
    """A number from a query string or form where junk simply means 'not given'."""
    value = str(raw).strip() if raw is not None else ""
    return int(value) if _INT.fullmatch(value) else None
