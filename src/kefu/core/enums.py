"""Closed sets of domain values (StrEnums), their column type and CHECK constraints.

A value outside the set is refused three times over: by the pydantic command models (422), by the model's attribute
validator (`validate_member`, for code paths that set a column directly) and by the database's CHECK constraint.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from kefu.core.errors import InvalidInput


class ChannelKind(StrEnum):
    """Where a conversation or ticket came from."""

    WEB_CHAT = "web_chat"
    EMAIL = "email"
    LINE = "line"
    MESSENGER = "messenger"
    BOARD = "board"
    PHONE = "phone"
    API = "api"
    LETTER = "letter"  # a paper complaint letter typed in by staff (tickets only; no inbox)


INBOX_KINDS: tuple[str, ...] = tuple(k for k in ChannelKind if k is not ChannelKind.LETTER)


class StrEnumType(TypeDecorator[str]):
    """A VARCHAR holding a StrEnum's value; rows read back as enum members (which compare equal to their strings)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Store the plain value (filters with unknown strings simply match nothing)."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """The enum member (a value written outside the set, impossible under the CHECK, stays a string)."""
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            return value


def in_clause(column: str, values: type[StrEnum] | tuple[str, ...]) -> str:
    """The SQL text `column IN ('a', 'b')` (also used verbatim by the migration that adds the constraint)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def check_in(column: str, values: type[StrEnum] | tuple[str, ...]) -> CheckConstraint:
    """CHECK (column IN (...)), named ck_<table>_<column> by the metadata naming convention."""
    return CheckConstraint(in_clause(column, values), name=column)


def validate_member(enum: type[StrEnum], value: Any, what: str) -> Any:
    """The enum member for `value`, or InvalidInput (422) naming the allowed values."""
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(enum)
        raise InvalidInput.said("err_core_unknown_value", what=what, value=repr(value), allowed=allowed) from None
