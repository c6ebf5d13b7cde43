"""The one CSV writer for every export: cells a spreadsheet would run as a formula are neutralized.

Excel, LibreOffice and Google Sheets evaluate a cell starting with = + - @ (and tab/CR, which some strip first), so
an agent named `=HYPERLINK("https://evil","x")` would become a live link in a supervisor's report. Such cells get a
leading apostrophe (OWASP's recommendation), which spreadsheets display as text. Plain numbers stay numbers.
Reading goes through here too: `reader`/`dict_reader` turn the csv module's errors (a field over the size limit, a
NUL byte, an unterminated quote) into InvalidInput, so an uploaded file is a 422, never a 500.
tests/security/test_csv.py fails when csv.writer, csv.reader or csv.DictReader is used anywhere else.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kefu.core.errors import InvalidInput

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


def _refused(exc: csv.Error, line: int) -> InvalidInput:
    return InvalidInput(f"The CSV file cannot be read (line {line}): {exc}.")


def reader(text: str) -> Iterator[list[str]]:
    """csv.reader over `text`; an unreadable file raises InvalidInput."""
    rows = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _refused(exc, rows.line_num) from exc
        yield row


if TYPE_CHECKING:
    _DictReader = csv.DictReader[str]
else:  # not subscriptable at run time before Python 3.12
    _DictReader = csv.DictReader


class SafeDictReader(_DictReader):
    """csv.DictReader whose errors are InvalidInput."""

    @property
    def fieldnames(self) -> Any:
        """The header row (read on first use)."""
        try:
            return super().fieldnames
        except csv.Error as exc:
            raise _refused(exc, self.line_num) from exc

    @fieldnames.setter
    def fieldnames(self, value: Any) -> None:
        self._fieldnames = value

    def __next__(self) -> dict[str | Any, str | Any]:
        try:
            return super().__next__()
        except csv.Error as exc:
            raise _refused(exc, self.line_num) from exc


def dict_reader(text: str) -> SafeDictReader:
    """csv.DictReader over `text`; an unreadable file raises InvalidInput."""
    return SafeDictReader(io.StringIO(text, newline=""))
