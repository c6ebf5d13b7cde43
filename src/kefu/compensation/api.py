"""Compensation ledger API: list and total entries, propose for handling errors and outages, approve/grant/reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.compensation import service
from kefu.compensation.schemas import CompensationOut, DecisionIn, ManualIn, OutageIn, TotalOut
from kefu.core.pagination import Page
from kefu.idempotency.deps import Idem
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["compensations"])
Read = Annotated[Principal, Depends(require("customers:read"))]
Manage = Annotated[Principal, Depends(require("teams:manage"))]


@router.get("/compensations", response_model=Page[CompensationOut])
def list_compensations(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[CompensationOut]:
    """Entries newest first, filtered by brand, status, customer or case."""
    rows, nxt = service.list_page(
        db,
        principal,
        limit=limit,
        cursor=cursor,
        brand_id=brand_id,
        status=status,
        customer_id=customer_id,
        ticket_id=ticket_id,
    )
    return Page(items=[CompensationOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/compensations/totals", response_model=list[TotalOut])
def compensation_totals(
    db: DB, principal: Read, brand_id: int | None = None, customer_id: int | None = None
) -> list[TotalOut]:
    """Entries and summed amounts per status and unit."""
    rows = service.totals(db, principal, brand_id=brand_id, customer_id=customer_id)
    return [TotalOut(status=s, unit=u, entries=n, amount=a) for s, u, n, a in rows]


@router.get("/compensations/{compensation_id}", response_model=CompensationOut)
def get_compensation(compensation_id: int, db: DB, principal: Read) -> CompensationOut:
    """One entry."""
    return CompensationOut.model_validate(service.get(db, compensation_id, principal))


@router.post("/compensations", response_model=CompensationOut, status_code=201)
def propose(body: ManualIn, db: DB, principal: Manage, idem: Idem) -> CompensationOut | JSONResponse:
    """Propose compensation for a handling error: the brand's SLA factor (default 2×) times the service time lost."""

    def work() -> CompensationOut:
        row = service.propose_manual(
            db,
            principal,
            customer_id=body.customer_id,
            ticket_id=body.ticket_id,
            basis_minutes=body.basis_minutes,
            note=body.note,
        )
        return CompensationOut.model_validate(row)

    return idem.run(
        db, work, lambda compensation_id: CompensationOut.model_validate(service.get(db, compensation_id, principal))
    )


@router.post("/compensations/{compensation_id}/{action}", response_model=CompensationOut)
def decide(compensation_id: int, action: str, body: DecisionIn, db: DB, principal: Manage) -> CompensationOut:
    """`approve`, `grant` (an approved entry) or `reject` (with the reason in `note`)."""
    return CompensationOut.model_validate(service.decide(db, compensation_id, action, principal, body.note))


@router.post("/notices/outages/{broadcast_id}/compensations", response_model=list[CompensationOut])
def propose_for_outage(broadcast_id: int, body: OutageIn, db: DB, principal: Manage) -> list[CompensationOut]:
    """One proposal per customer the outage notice was addressed to (again: only those not yet proposed)."""
    rows = service.propose_for_outage(db, broadcast_id, principal, body.outage_minutes)
    return [CompensationOut.model_validate(r) for r in rows]
