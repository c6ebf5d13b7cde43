"""Validating domain commands: the one place a plain dict becomes a typed command (or a 422 problem)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kefu.core.errors import InvalidInput

C = TypeVar("C", bound=BaseModel)


def build(model: type[C], data: Mapping[str, Any]) -> C:
    """Validate `data` into a command; a bad value is InvalidInput (422 problem), never a 500."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or model.__name__
            got = f" (got {err['input']!r})" if err["type"] != "missing" and isinstance(err["input"], str | int) else ""
            parts.append(f"{where}: {err['msg']}{got}")
        raise InvalidInput("; ".join(parts)) from None


def ensure(model: type[C], command: C | Mapping[str, Any]) -> C:
    """`command` itself when it is already a `model`, else validated into one (services accept both)."""
    return command if isinstance(command, model) else build(model, command)  # type: ignore[arg-type]


def changes_of(command: BaseModel) -> dict[str, Any]:
    """The fields a command actually sets (what a partial update applies)."""
    return command.model_dump(exclude_unset=True)
