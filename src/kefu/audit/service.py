"""Writing and reading the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.chain import defer_append
from kefu.audit.models import AuditLog
from kefu.auth.permissions import Principal
from kefu.core.db import new_row, utcnow
from kefu.core.pagination import keyset_page


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    *,
    target_type: str | None = None,
    target_id: int | str | None = None,
    brand_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor_type: str | None = None,
    actor_label: str | None = None,
) -> AuditLog:
    """Append an audit entry in the caller's transaction (so it commits or rolls back with the change).

    The row is inserted when the transaction commits (or earlier, when the session reads the audit log):
    chaining it locks the single chain head, and taking that lock last keeps concurrent writers from queuing
    behind each other for the rest of their transactions.
    """
    entry = new_row(  # transient until the append at commit: built without per-attribute ORM events
        AuditLog,
        {
            "at": utcnow(),
            "actor_type": actor_type or ("agent" if actor else "system"),
            "actor_id": actor.agent_id if actor else None,
            "actor_label": actor_label or (actor.label if actor else "system"),
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id) if target_id is not None else None,
            "brand_id": brand_id,
            "ip": actor.ip if actor else None,
            "details": details or {},
        },
    )
    defer_append(session, entry)
    return entry


def list_entries(
    session: Session,
    principal: Principal,
    *,
    action: str | None,
    actor_id: int | None,
    target_type: str | None,
    target_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditLog], str | None]:
    """Newest-first audit entries with filters; non-admins see only entries of their brands.

    Entries without a brand (logins, agent and platform changes) are platform-wide and only admins read them.
    """
    stmt = select(AuditLog)
    if principal.brand_ids is not None:  # the same rule as kefu.core.access.scope_to_brands, on a nullable column
        stmt = stmt.where(AuditLog.brand_id.in_(principal.brand_ids))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor_id is not None:
        stmt = stmt.where(AuditLog.actor_id == actor_id)
    if target_type:
        stmt = stmt.where(AuditLog.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditLog.target_id == target_id)
    return keyset_page(session, stmt, AuditLog.id, AuditLog.id, limit=limit, cursor=cursor)
