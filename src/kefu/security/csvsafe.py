"""The one CSV writer for every export: cells a spreadsheet would run as a formula are neutralized.

Excel, LibreOffice and Google Sheets evaluate a cell starting with = + - @ (and tab/CR, which some strip first), so
an agent named `=HYPERLINK("https://evil","x")` would become a live link in a supervisor's report. Such cells get a
leading apostrophe (OWASP's recommendation), which spreadsheets display as text. Plain numbers stay numbers.
tests/security/test_csv.py fails when csv.writer is used anywhere else.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # incl. full-width forms
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)*%?")


def safe_cell(value: Any) -> Any:
    """The value, or its text with a leading apostrophe when a spreadsheet would treat it as a formula."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def restore_cell(text: str) -> str:
    """Undo safe_cell for files we read back (an exported KB re-imported): `'=x` → `=x`, other text unchanged."""
    if text.startswith("'") and text[1:].startswith(_TRIGGERS) and not _NUMBER.fullmatch(text[1:]):
        return text[1:]
    return text


class SafeWriter:
    """csv.writer with every cell passed through safe_cell."""

    def __init__(self, stream: io.StringIO, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write many rows."""
        for row in rows:
            self.writerow(row)


def writer(stream: io.StringIO, **kwargs: Any) -> SafeWriter:
    """A formula-safe CSV writer over `stream`."""
    return SafeWriter(stream, **kwargs)


def dict_rows(header: Iterable[str], rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    """The header, then each dict's values in header order (for writer().writerows)."""
    cols = list(header)
    yield cols
    for row in rows:
        yield [row.get(c, "") for c in cols]
