"""Canned-response endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from kefu.auth.deps import DB, CurrentPrincipal, require
from kefu.auth.permissions import Principal
from kefu.macros import service
from kefu.macros.schemas import CannedCreate, CannedOut, CannedUpdate
from kefu.web.routing import Router

router = Router(prefix="/api/v1/canned-responses", tags=["macros"])
Write = Annotated[Principal, Depends(require("kb:write"))]


@router.get("", response_model=list[CannedOut])
def search(
    principal: CurrentPrincipal,
    db: DB,
    brand_id: int,
    locale: Annotated[str | None, Query(pattern=r"^(zh-TW|zh-CN|en)$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> list[CannedOut]:
    """Search canned responses (any agent)."""
    return [CannedOut.model_validate(r) for r in service.search(db, principal, brand_id=brand_id, locale=locale, q=q)]


@router.post("", response_model=CannedOut, status_code=201)
def create(body: CannedCreate, db: DB, principal: Write) -> CannedOut:
    """Add a canned response (editors)."""
    return CannedOut.model_validate(service.create(db, principal, body))


@router.patch("/{canned_id}", response_model=CannedOut)
def update(canned_id: int, body: CannedUpdate, db: DB, principal: Write) -> CannedOut:
    """Change a canned response."""
    row = service.get(db, canned_id, principal)
    return CannedOut.model_validate(service.update(db, row, principal, body))


@router.delete("/{canned_id}", status_code=204)
def delete(canned_id: int, db: DB, principal: Write) -> None:
    """Remove a canned response."""
    service.delete(db, service.get(db, canned_id, principal), principal)
