"""Audit log endpoint (read-only: the log is append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

from kefu.audit import service
from kefu.audit.chain import verify_chain
from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.core.pagination import Page
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    """An audit entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_type: str
    actor_id: int | None
    actor_label: str
    action: str
    target_type: str | None
    target_id: str | None
    brand_id: int | None
    ip: str | None
    details: dict[str, Any]
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


class VerifyOut(BaseModel):
    """Result of checking the audit hash chain."""

    ok: bool
    checked: int
    head_seq: int
    problems: list[str]


@router.get("/audit", response_model=Page[AuditOut])
def list_audit(
    db: DB,
    principal: Annotated[Principal, Depends(require("audit:read"))],
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[AuditOut]:
    """Audit entries, newest first."""
    rows, nxt = service.list_entries(
        db,
        principal,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[AuditOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/audit/verify", response_model=VerifyOut)
def verify(db: DB, principal: Annotated[Principal, Depends(require("audit:read"))]) -> VerifyOut:
    """Recompute the audit hash chain and report modified, deleted or reordered entries."""
    result = verify_chain(db)
    return VerifyOut(ok=result.ok, checked=result.checked, head_seq=result.head_seq, problems=result.problems)
