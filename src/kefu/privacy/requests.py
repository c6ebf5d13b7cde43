"""The data-subject request queue: a request is opened, the requester's identity is checked, then it is executed.

Taiwan's Personal Data Protection Act, Art. 13: a request to look at or copy one's data (our export) must be
answered within 15 days, a correction or erasure within 30 days (each extendable once, in writing — not modelled).
The seeds give no other figure, so these are the due dates; a request past its due date and not done is overdue.
The queue lives on the existing ``privacy_requests`` rows (migration 1851): the older one-step export/erasure calls
still write completed rows, and executing a queued request reuses those same services with ``request_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.customers import service as customers
from kefu.customers.phones import check_phone
from kefu.privacy import service
from kefu.privacy.models import PrivacyRequest
from kefu.privacy.pii import mask_text

KINDS = ("export", "erase", "correction")
DUE_DAYS = {"export": 15, "erase": 30, "correction": 30}
OPEN_STATES = ("pending", "verified")
DONE_STATES = ("completed", "rejected")
CORRECTABLE = ("name", "email", "phone")
STATES = ("pending", "overdue", "done")


@dataclass
class Executed:
    """What executing a request produced: the row, and for an export the file to hand over."""

    request: PrivacyRequest
    content: bytes | None = None
    media_type: str | None = None
    filename: str | None = None


def due_for(kind: str, opened_at: datetime) -> datetime:
    """The statutory due date of a request of `kind` opened at `opened_at`."""
    return opened_at + timedelta(days=DUE_DAYS[kind])


def is_overdue(req: PrivacyRequest, now: datetime) -> bool:
    """True when a request is still open past its due date."""
    return req.status in OPEN_STATES and req.due_at is not None and req.due_at < now


def open_request(
    session: Session,
    principal: Principal,
    customer_id: int,
    *,
    kind: str,
    reason: str,
    channel: str,
    changes: dict[str, str] | None = None,
    now: datetime | None = None,
) -> PrivacyRequest:
    """Record a request as pending (identity not yet checked), with its due date; audited."""
    if kind not in KINDS:
        raise InvalidInput.said("err_privacy_bad_kind", choices=", ".join(KINDS))
    customer = customers.get_customer(session, customer_id, principal)
    clean: dict[str, str] = {}
    if kind == "correction":
        clean = {k: str(v).strip() for k, v in (changes or {}).items() if k in CORRECTABLE and str(v).strip()}
        if not clean or set(changes or {}) - set(CORRECTABLE):
            raise InvalidInput.said("err_privacy_correction_fields", fields=", ".join(CORRECTABLE))
        check_phone(clean.get("phone"))  # refused now, not when the verified request runs weeks later
    elif changes:
        raise InvalidInput.said("err_privacy_changes_only_correction")
    opened = now or utcnow()
    req = PrivacyRequest(
        brand_id=customer.brand_id,
        customer_id=customer.id,
        kind=kind,
        status="pending",
        reason=reason[:500],
        channel=channel,
        requested_by=principal.agent_id,
        # The corrected values are needed until execution only; they are dropped then (see execute_request).
        details={"changes": clean} if clean else {},
        created_at=opened,
        due_at=due_for(kind, opened),
    )
    session.add(req)
    session.flush()
    record(
        session,
        principal,
        "privacy.request.open",
        target_type="privacy_request",
        target_id=req.id,
        brand_id=req.brand_id,
        details={"kind": kind, "customer_id": customer.id, "channel": channel, "fields": sorted(clean)},
    )
    return req


def get_request(session: Session, principal: Principal, request_id: int) -> PrivacyRequest:
    """One request in the caller's brands (404 otherwise)."""
    req = get_in_brand(session, PrivacyRequest, request_id, principal, "Request")
    return req


def verify_request(session: Session, principal: Principal, request_id: int, *, note: str) -> PrivacyRequest:
    """Record that an agent checked the requester's identity (how, in the note; PII in it is masked); audited."""
    req = get_request(session, principal, request_id)
    if req.status != "pending":
        raise Conflict.said("err_privacy_verify_not_pending", status=req.status)
    note = note.strip()
    if len(note) < 3:
        raise InvalidInput.said("err_privacy_verify_how")
    req.status = "verified"
    req.verified_at = utcnow()
    req.verified_by = principal.agent_id
    req.verification_note = mask_text(note)[:500]
    session.flush()
    record(
        session,
        principal,
        "privacy.request.verify",
        target_type="privacy_request",
        target_id=req.id,
        brand_id=req.brand_id,
        details={"kind": req.kind, "customer_id": req.customer_id},
    )
    return req


def reject_request(session: Session, principal: Principal, request_id: int, *, note: str) -> PrivacyRequest:
    """Close an open request without executing it (identity not confirmed, withdrawn…); audited."""
    req = get_request(session, principal, request_id)
    if req.status not in OPEN_STATES:
        raise Conflict.said("err_privacy_already", status=req.status)
    note = note.strip()
    if len(note) < 3:
        raise InvalidInput.said("err_privacy_reject_why")
    req.status = "rejected"
    req.verification_note = mask_text(note)[:500]
    req.completed_at = utcnow()
    req.details = {k: v for k, v in req.details.items() if k != "changes"}
    session.flush()
    record(
        session,
        principal,
        "privacy.request.reject",
        target_type="privacy_request",
        target_id=req.id,
        brand_id=req.brand_id,
        details={"kind": req.kind, "customer_id": req.customer_id},
    )
    return req


def execute_request(session: Session, principal: Principal, request_id: int, *, fmt: str = "json") -> Executed:
    """Carry out a verified request through the privacy service (export, erasure) or the customer update."""
    req = get_request(session, principal, request_id)
    if req.status != "verified":
        raise (
            Conflict.said("err_privacy_verify_first")
            if req.status == "pending"
            else Conflict.said("err_privacy_already", status=req.status)
        )
    out = Executed(request=req)
    if req.kind == "export":
        out.content, out.media_type, out.filename = service.export_customer(
            session, req.customer_id, principal, fmt=fmt, reason=req.reason or "data-subject request", request=req
        )
    elif req.kind == "erase":
        service.erase_customer(
            session, req.customer_id, principal, reason=req.reason or "data-subject request", request_id=req.id
        )
    else:
        changes = dict(req.details.get("changes") or {})
        customer = customers.get_customer(session, req.customer_id, principal)
        customers.update_customer(session, customer, principal, {k: v for k, v in changes.items() if k in CORRECTABLE})
        req.details = {"fields": sorted(changes)}
        req.status = "completed"
        req.completed_at = utcnow()
    session.flush()
    record(
        session,
        principal,
        "privacy.request.execute",
        target_type="privacy_request",
        target_id=req.id,
        brand_id=req.brand_id,
        details={"kind": req.kind, "customer_id": req.customer_id, "on_time": not _late(req)},
    )
    return out


def _late(req: PrivacyRequest) -> bool:
    return req.due_at is not None and req.completed_at is not None and req.completed_at > req.due_at


def state_condition(state: str, now: datetime) -> ColumnElement[bool]:
    """WHERE clause of a queue tab: pending (open, not yet due), overdue (open, past due) or done."""
    if state == "pending":
        return and_(
            PrivacyRequest.status.in_(OPEN_STATES),
            or_(PrivacyRequest.due_at.is_(None), PrivacyRequest.due_at >= now),
        )
    if state == "overdue":
        return and_(PrivacyRequest.status.in_(OPEN_STATES), PrivacyRequest.due_at < now)
    if state == "done":
        return PrivacyRequest.status.in_(DONE_STATES)
    raise InvalidInput.said("err_privacy_bad_state", choices=", ".join(STATES))


def queue(
    session: Session,
    principal: Principal,
    *,
    state: str | None = None,
    kind: str | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> list[PrivacyRequest]:
    """Requests in the caller's brands: open ones by due date (overdue first), done ones newest first."""
    now = now or utcnow()
    stmt = select(PrivacyRequest)
    stmt = scope_to_brands(stmt, PrivacyRequest.brand_id, principal)
    if kind:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    if state:
        stmt = stmt.where(state_condition(state, now))
    if state in ("pending", "overdue"):
        stmt = stmt.order_by(PrivacyRequest.due_at, PrivacyRequest.id)
    else:
        stmt = stmt.order_by(PrivacyRequest.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def counts(session: Session, principal: Principal, *, now: datetime | None = None) -> dict[str, int]:
    """How many requests sit in each tab (one query)."""
    now = now or utcnow()
    cols: list[Any] = [func.count().filter(state_condition(s, now)).label(s) for s in STATES]
    stmt = select(*cols).select_from(PrivacyRequest)
    stmt = scope_to_brands(stmt, PrivacyRequest.brand_id, principal)
    row = session.execute(stmt).one()
    return {s: int(row[i] or 0) for i, s in enumerate(STATES)}
