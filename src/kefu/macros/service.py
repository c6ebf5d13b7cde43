"""Canned responses with placeholder rendering ({customer_name}, {agent_name}, {ticket_number})."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core import like
from kefu.core.access import ensure_brand, get_in_brand
from kefu.core.errors import Conflict
from kefu.macros.commands import CreateCanned, UpdateCanned, changes_of, ensure
from kefu.macros.models import CannedResponse

PLACEHOLDER = re.compile(r"\{(customer_name|agent_name|ticket_number|brand_name)\}")


def create(session: Session, actor: Principal, command: CreateCanned | Mapping[str, Any]) -> CannedResponse:
    """Add a canned response (a plain mapping is validated into the command first)."""
    fields = ensure(CreateCanned, command).model_dump()
    get_brand(session, fields["brand_id"], actor)
    exists = session.scalar(
        select(CannedResponse.id).where(
            CannedResponse.brand_id == fields["brand_id"],
            CannedResponse.locale == fields["locale"],
            CannedResponse.shortcut == fields["shortcut"],
        )
    )
    if exists is not None:
        raise Conflict.said("err_macros_shortcut_taken", shortcut=fields["shortcut"], language=fields["locale"])
    row = CannedResponse(created_by=actor.agent_id, **fields)
    session.add(row)
    session.flush()
    record(session, actor, "macro.create", target_type="canned_response", target_id=row.id, brand_id=row.brand_id)
    return row


def get(session: Session, canned_id: int, principal: Principal) -> CannedResponse:
    """Canned response by id."""
    return get_in_brand(session, CannedResponse, canned_id, principal, f"Canned response {canned_id}")


def update(
    session: Session, row: CannedResponse, actor: Principal, command: UpdateCanned | Mapping[str, Any]
) -> CannedResponse:
    """Apply the fields the command sets (None leaves a field as it is)."""
    changes = changes_of(ensure(UpdateCanned, command))
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, value)
    session.flush()
    record(session, actor, "macro.update", target_type="canned_response", target_id=row.id, brand_id=row.brand_id)
    return row


def delete(session: Session, row: CannedResponse, actor: Principal) -> None:
    """Remove a canned response."""
    rid, bid = row.id, row.brand_id
    session.delete(row)
    session.flush()
    record(session, actor, "macro.delete", target_type="canned_response", target_id=rid, brand_id=bid)


def search(
    session: Session, principal: Principal, *, brand_id: int, locale: str | None, q: str | None, limit: int = 20
) -> list[CannedResponse]:
    """Canned responses of a brand matching a shortcut prefix or words in title/body."""
    ensure_brand(principal, brand_id, "Brand")
    stmt = select(CannedResponse).where(CannedResponse.brand_id == brand_id)
    if locale:
        stmt = stmt.where(CannedResponse.locale == locale)
    if q:
        stmt = stmt.where(
            or_(
                like.startswith(CannedResponse.shortcut, q),
                like.contains(CannedResponse.title, q),
                like.contains(CannedResponse.body, q),
            )
        )
    return list(session.scalars(stmt.order_by(CannedResponse.shortcut).limit(limit)))


def offered(
    session: Session, principal: Principal, *, brand_id: int, prefer: Sequence[str | None], limit: int = 100
) -> list[CannedResponse]:
    """One version per shortcut to offer in a conversation: the first ``prefer`` locale written, else the first."""
    ensure_brand(principal, brand_id, "Brand")
    # The agent types the reply but the customer reads it: a zh-TW agent answering an English customer inserts the
    # English version when the brand wrote one.
    order = [loc for loc in dict.fromkeys(prefer) if loc]
    rank = {loc: i for i, loc in enumerate(order)}
    best: dict[str, CannedResponse] = {}
    rows = session.scalars(
        select(CannedResponse)
        .where(CannedResponse.brand_id == brand_id)
        .order_by(CannedResponse.shortcut, CannedResponse.locale)
    )
    for row in rows:
        held = best.get(row.shortcut)
        if held is None or rank.get(row.locale, len(order)) < rank.get(held.locale, len(order)):
            best[row.shortcut] = row
    return list(best.values())[:limit]


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill known placeholders; unknown ones are left as typed, empty ones are dropped with the space beside them."""
    # A visitor without a name must not read "Hi , this is Mei" or " 您好": the space that set the name apart goes too.
    empty = [key for key, value in values.items() if not value]
    if empty:
        names = "|".join(re.escape(key) for key in empty)
        body = re.sub(rf"^[ \t]*\{{(?:{names})\}}[ \t]*|[ \t]*\{{(?:{names})\}}", "", body, flags=re.MULTILINE)
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or m.group(0), body)
