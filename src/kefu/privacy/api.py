"""Privacy endpoints: audited PII reveal, subject-access export, erasure, consent and retention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from kefu.auth.deps import DB, CurrentPrincipal, require
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.conversations import service as conversations
from kefu.conversations.schemas import MessageOut, MessagePage
from kefu.core.access import scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Forbidden, InvalidInput
from kefu.core.jobs import enqueue
from kefu.core.pagination import Page, keyset_page
from kefu.customers import service as customers
from kefu.customers.schemas import CustomerDetail, CustomerOut, IdentityOut
from kefu.idempotency.deps import Idem
from kefu.privacy import requests, service
from kefu.privacy.models import CONSENT_PURPOSES, DeletionLedger, PrivacyRequest, RetentionPolicy
from kefu.privacy.schemas import (
    ConsentEventOut,
    ConsentsIn,
    ConsentsOut,
    ConsentState,
    EraseIn,
    ErasureOut,
    ExportIn,
    LedgerOut,
    RequestExecuteIn,
    RequestIn,
    RequestNoteIn,
    RequestOut,
    RetentionIn,
    RetentionOut,
    RetentionRunIn,
    RevealIn,
)
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["privacy"])


def require_all(*permissions: str) -> Callable[[Principal], Principal]:
    """Dependency: the principal must hold every one of `permissions`."""

    def _dep(principal: CurrentPrincipal) -> Principal:
        missing = [p for p in permissions if not principal.can(p)]
        if missing:
            raise Forbidden.said("err_auth_missing_permission", permission=", ".join(missing))
        return principal

    return _dep


Reveal = Annotated[Principal, Depends(require_all("customers:read", "pii:reveal"))]
Erase = Annotated[Principal, Depends(require_all("customers:write", "pii:reveal"))]
Read = Annotated[Principal, Depends(require("customers:read"))]
Write = Annotated[Principal, Depends(require("customers:write"))]
Audit = Annotated[Principal, Depends(require("audit:read"))]
Manage = Annotated[Principal, Depends(require("brands:manage"))]


@router.post("/customers/{customer_id}/reveal", response_model=CustomerDetail)
def reveal_customer(customer_id: int, body: RevealIn, db: DB, principal: Reveal) -> CustomerDetail:
    """The customer in cleartext; the reveal and its reason are audited."""
    c = customers.get_customer(db, customer_id, principal)
    service.audit_reveal(db, principal, target_type="customer", target_id=c.id, brand_id=c.brand_id, reason=body.reason)
    idents = [IdentityOut.model_validate(i) for i in customers.identities_of(db, c.id)]
    return CustomerDetail(**CustomerOut.model_validate(c).model_dump(), identities=idents)


@router.post("/conversations/{conversation_id}/reveal", response_model=MessagePage, tags=["conversations"])
def reveal_messages(
    conversation_id: int,
    body: RevealIn,
    db: DB,
    principal: Annotated[Principal, Depends(require_all("conversations:read", "pii:reveal"))],
    after_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessagePage:
    """A conversation's messages in cleartext; the reveal and its reason are audited."""
    conv = conversations.get_conversation(db, conversation_id, principal)
    service.audit_reveal(
        db, principal, target_type="conversation", target_id=conv.id, brand_id=conv.brand_id, reason=body.reason
    )
    rows, nxt = conversations.list_messages(db, conv, after_id=after_id, limit=limit)
    return MessagePage(items=[MessageOut.model_validate(m) for m in rows], next_after_id=nxt)


@router.post(
    "/customers/{customer_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "application/pdf": {}}}},
)
def export_customer(customer_id: int, body: ExportIn, db: DB, principal: Reveal) -> Response:
    """The customer's last 12 months of service records (JSON or PDF), as a download."""
    content, media, filename = service.export_customer(
        db, customer_id, principal, fmt=body.format, reason=body.reason, months=body.months
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post("/customers/{customer_id}/erase", response_model=ErasureOut)
def erase_customer(customer_id: int, body: EraseIn, db: DB, principal: Erase) -> ErasureOut:
    """Erase the customer's personal data (identities, message bodies, ticket links); idempotent."""
    if not body.confirm:
        raise InvalidInput.said("err_privacy_confirm_erase")
    entry, changed = service.erase_customer(db, customer_id, principal, reason=body.reason)
    return ErasureOut(changed=changed, ledger=LedgerOut.model_validate(entry))


def _consents(db: DB, customer_id: int) -> ConsentsOut:
    current = service.current_consents(db, customer_id)
    return ConsentsOut(
        customer_id=customer_id,
        current={
            p: (ConsentState(granted=e.granted, source=e.source, at=e.at) if e is not None else None)
            for p, e in current.items()
        },
        history=[ConsentEventOut.model_validate(e) for e in service.consent_history(db, customer_id)],
    )


@router.get("/customers/{customer_id}/consents", response_model=ConsentsOut)
def get_consents(customer_id: int, db: DB, principal: Read) -> ConsentsOut:
    """Consent for tracking, personalization and secondary use, with history."""
    c = customers.get_customer(db, customer_id, principal)
    return _consents(db, c.id)


@router.put("/customers/{customer_id}/consents", response_model=ConsentsOut)
def put_consents(customer_id: int, body: ConsentsIn, db: DB, principal: Write) -> ConsentsOut:
    """Record consent decisions (each change is kept in the history and audited)."""
    c = customers.get_customer(db, customer_id, principal)
    changes = {p: v for p in CONSENT_PURPOSES if (v := getattr(body, p)) is not None}
    service.set_consents(db, c, changes, actor=principal, source=body.source, note=body.note)
    return _consents(db, c.id)


def _request_out(req: PrivacyRequest) -> RequestOut:
    out = RequestOut.model_validate(req)
    out.overdue = requests.is_overdue(req, utcnow())
    if "changes" in out.details:  # corrected values are personal data: only which fields change is listed
        out.details = {**out.details, "changes": sorted(out.details["changes"])}
    return out


@router.get("/privacy/requests", response_model=Page[RequestOut])
def list_requests(
    db: DB,
    principal: Audit,
    customer_id: int | None = None,
    state: Annotated[str | None, Query(pattern="^(pending|overdue|done)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(export|erase|correction)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[RequestOut]:
    """Data-subject requests, newest first; `state` picks the queue tab (pending, overdue, done)."""
    stmt = scope_to_brands(select(PrivacyRequest), PrivacyRequest.brand_id, principal)
    if customer_id is not None:
        stmt = stmt.where(PrivacyRequest.customer_id == customer_id)
    if state is not None:
        stmt = stmt.where(requests.state_condition(state, utcnow()))
    if kind is not None:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    rows, nxt = keyset_page(db, stmt, PrivacyRequest.id, PrivacyRequest.id, limit=limit, cursor=cursor)
    return Page(items=[_request_out(r) for r in rows], next_cursor=nxt)


@router.post("/privacy/requests", response_model=RequestOut, status_code=201)
def open_request(body: RequestIn, db: DB, principal: Write, idem: Idem) -> RequestOut | JSONResponse:
    """Record a request received from a customer; it waits for the identity check, due by the statutory date."""

    def work() -> RequestOut:
        req = requests.open_request(
            db,
            principal,
            body.customer_id,
            kind=body.kind,
            reason=body.reason,
            channel=body.channel,
            changes={str(k): v for k, v in body.changes.items()} if body.changes else None,
        )
        return _request_out(req)

    # Brand-scoped like GET /privacy/requests/{id}; the creator needs customers:write here, not audit:read.
    return idem.run(db, work, lambda request_id: _request_out(requests.get_request(db, principal, request_id)))


@router.get("/privacy/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: int, db: DB, principal: Audit) -> RequestOut:
    """One data-subject request."""
    return _request_out(requests.get_request(db, principal, request_id))


@router.post("/privacy/requests/{request_id}/verify", response_model=RequestOut)
def verify_request(request_id: int, body: RequestNoteIn, db: DB, principal: Erase) -> RequestOut:
    """Record that the requester's identity was checked, and how."""
    return _request_out(requests.verify_request(db, principal, request_id, note=body.note))


@router.post("/privacy/requests/{request_id}/reject", response_model=RequestOut)
def reject_request(request_id: int, body: RequestNoteIn, db: DB, principal: Erase) -> RequestOut:
    """Close an open request without carrying it out, with the reason."""
    return _request_out(requests.reject_request(db, principal, request_id, note=body.note))


@router.post(
    "/privacy/requests/{request_id}/execute",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "application/pdf": {}}}},
)
def execute_request(request_id: int, body: RequestExecuteIn, db: DB, principal: Erase) -> Response | RequestOut:
    """Carry out a verified request: an export answers with the file, an erasure or correction with the request."""
    done = requests.execute_request(db, principal, request_id, fmt=body.format)
    if done.content is not None:
        return Response(
            done.content,
            media_type=done.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{done.filename}"',
                "Cache-Control": "no-store",
                "X-Kefu-Request-Id": str(done.request.id),
            },
        )
    return _request_out(done.request)


@router.get("/privacy/deletions", response_model=Page[LedgerOut])
def list_deletions(
    db: DB,
    principal: Audit,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[LedgerOut]:
    """The deletion ledger, newest first."""
    stmt = scope_to_brands(select(DeletionLedger), DeletionLedger.brand_id, principal)
    rows, nxt = keyset_page(db, stmt, DeletionLedger.id, DeletionLedger.id, limit=limit, cursor=cursor)
    return Page(items=[LedgerOut.model_validate(r) for r in rows], next_cursor=nxt)


def _retention_out(db: DB, brand_id: int) -> RetentionOut:
    pol = db.get(RetentionPolicy, brand_id)
    if pol is None:
        return RetentionOut(brand_id=brand_id, years=service.DEFAULT_RETENTION_YEARS, enabled=True, is_default=True)
    return RetentionOut(brand_id=brand_id, years=pol.years, enabled=pol.enabled, is_default=False)


@router.get("/brands/{brand_id}/retention", response_model=RetentionOut, tags=["brands"])
def get_retention(brand_id: int, db: DB, principal: Read) -> RetentionOut:
    """How long the brand keeps closed records identifiable."""
    get_brand(db, brand_id, principal)
    return _retention_out(db, brand_id)


@router.put("/brands/{brand_id}/retention", response_model=RetentionOut, tags=["brands"])
def put_retention(brand_id: int, body: RetentionIn, db: DB, principal: Manage) -> RetentionOut:
    """Change the brand's retention period (years before de-identification)."""
    service.set_retention(db, brand_id, years=body.years, enabled=body.enabled, actor=principal)
    return _retention_out(db, brand_id)


@router.post("/privacy/retention/run", status_code=202)
def run_retention(body: RetentionRunIn, db: DB, principal: Manage) -> dict[str, str]:
    """Queue a retention sweep (de-identifies closed records past their brand's period)."""
    if body.brand_id is not None:
        get_brand(db, body.brand_id, principal)
    elif principal.brand_ids is not None:
        raise Forbidden.said("err_privacy_sweep_all_admin_only")
    enqueue(db, "privacy.retention", {"brand_id": body.brand_id, "batch": body.batch})
    return {"status": "queued"}
