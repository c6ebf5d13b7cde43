"""Brand-scoped visibility checks shared by every service.

The core defines what it needs from a caller (`BrandScope`) instead of importing kefu.auth: auth's `Principal`
satisfies the protocol, so the dependency points from auth to core, never back.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from kefu.core.catalog import table
from kefu.core.errors import InvalidInput, NotFound, ProblemError, Term

# "Customer 5": the thing and its id, so each part is said in the reader's language (找不到客戶 5。).
_NUMBERED = re.compile(r"^(?P<noun>.+?) (?P<number>\d+)$")


def not_found(what: str) -> NotFound:
    """404 naming `what` ("Ticket", "Customer 5") by its catalog name `err_core_what_<noun>`; English as before."""
    match = _NUMBERED.match(what)
    noun, number = (match["noun"], match["number"]) if match else (what, None)
    label = "err_core_what_" + re.sub(r"[^a-z0-9]+", "_", noun.lower()).strip("_")
    # A thing with no catalog name yet is shown as written (tests/web/test_error_text.py names every caller's).
    name = Term(noun, label) if label in table("en") else noun
    if number is None:
        return NotFound.said("err_core_not_found", what=name)
    return NotFound.said("err_core_not_found_n", what=name, number=number)


class BrandScope(Protocol):
    """Whoever is acting, as far as brand isolation cares: the brands they may see (None = every brand)."""

    @property
    def brand_ids(self) -> frozenset[int] | None:
        """The brands visible to the caller; None means all of them."""
        ...

    def can_access_brand(self, brand_id: int) -> bool:
        """True when data of `brand_id` is visible to the caller."""
        ...


def ensure_brand(principal: BrandScope | None, brand_id: int, what: str = "Resource") -> None:
    """404 (not 403) for other brands' data, so ids do not leak across brands."""
    if principal is not None and not principal.can_access_brand(brand_id):
        raise not_found(what)


class BrandOwned(Protocol):
    """A row that belongs to one brand."""

    brand_id: Any


Row = TypeVar("Row", bound=BrandOwned)


def get_in_brand(session: Session, model: type[Row], row_id: int, principal: BrandScope | None, what: str) -> Row:
    """The row with this primary key if the caller may see its brand; 404 alike for missing and foreign rows."""
    row = session.get(model, row_id)
    if row is None:
        raise not_found(what)
    ensure_brand(principal, int(row.brand_id), what)
    return row


def find_in_brand(session: Session, model: type[Row], row_id: int, principal: BrandScope | None) -> Row | None:
    """The row with this primary key if it exists and the caller may see its brand, else None."""
    row = session.get(model, row_id)
    if row is None or (principal is not None and not principal.can_access_brand(int(row.brand_id))):
        return None
    return row


def ref_in_brand(
    session: Session,
    model: type[Row],
    row_id: int,
    brand_id: int,
    key: str,
    error: type[ProblemError] = InvalidInput,
    /,
    **params: Any,
) -> Row:
    """A row of `brand_id` by id (a reference in a command, a public page's item): one error alike for missing rows
    and rows of another brand, 422 by default, said with catalog `key` and `params`."""
    row = session.get(model, row_id)
    if row is None or int(row.brand_id) != brand_id:
        raise error.said(key, **params)
    return row


Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")


def scope_to_brands(
    stmt: Query, col: InstrumentedAttribute[Any], principal: BrandScope | None, *, unbranded: bool = False
) -> Query:
    """Restrict a query to the principal's brands (the one list-side rule; None or an admin: every brand).

    `unbranded`: rows whose (nullable) brand is NULL belong to no brand and stay visible (an account's own notices).
    """
    if principal is not None and principal.brand_ids is not None:
        visible = col.in_(principal.brand_ids)
        return stmt.where(or_(col.is_(None), visible) if unbranded else visible)
    return stmt
