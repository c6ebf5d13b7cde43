"""Brand-scoped visibility checks shared by every service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from kefu.auth.permissions import Principal
from kefu.core.errors import NotFound


def ensure_brand(principal: Principal | None, brand_id: int, what: str = "Resource") -> None:
    """404 (not 403) for other brands' data, so ids do not leak across brands."""
    if principal is not None and not principal.can_access_brand(brand_id):
        raise NotFound(f"{what} not found.")


def scope_to_brands(stmt: Select[Any], col: InstrumentedAttribute[int], principal: Principal | None) -> Select[Any]:
    """Restrict a query to the principal's brands."""
    if principal is not None and principal.brand_ids is not None:
        return stmt.where(col.in_(principal.brand_ids))
    return stmt
