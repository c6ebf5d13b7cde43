"""Security ladder endpoints: record the steps of a case, request a freeze, the brand's webhook, punctuality."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Response
from sqlalchemy.orm import Session

from kefu.account_security import service
from kefu.account_security.schemas import (
    FreezeIn,
    FreezeRequestOut,
    HookIn,
    HookOut,
    LadderOut,
    LadderStepOut,
    StepIn,
    StepRecordOut,
)
from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.core.errors import NotFound
from kefu.tickets.models import Ticket
from kefu.tickets.service import get_ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["security-incidents"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Manage = Annotated[Principal, Depends(require("brands:manage"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


def ladder_out(db: Session, ticket: Ticket) -> LadderOut:
    """API shape of a case's ladder."""
    return LadderOut(
        ticket_id=ticket.id,
        number=ticket.number,
        category=ticket.category,
        steps=[
            LadderStepOut(
                step=s.step,
                due_at=s.due_at,
                status=s.status,
                recorded=StepRecordOut.model_validate(s.record) if s.record else None,
            )
            for s in service.ladder(db, ticket)
        ],
        freeze_requests=[FreezeRequestOut.model_validate(r) for r in service.freeze_requests(db, ticket)],
    )


@router.get("/tickets/{ticket_id}/security-steps", response_model=LadderOut)
def get_ladder(ticket_id: int, db: DB, principal: Read) -> LadderOut:
    """The ladder of a case: each step's deadline, SLA status and record."""
    return ladder_out(db, get_ticket(db, ticket_id, principal))


@router.post("/tickets/{ticket_id}/security-steps", response_model=StepRecordOut, status_code=201)
def record_step(ticket_id: int, body: StepIn, db: DB, principal: Write, response: Response) -> StepRecordOut:
    """Record a step (in order); recording it again answers the first record with 200. 409 on other cases."""
    ticket = get_ticket(db, ticket_id, principal)
    row, created = service.record_step(db, ticket, principal, body)
    if not created:
        response.status_code = 200
    return StepRecordOut.model_validate(row)


@router.post("/tickets/{ticket_id}/security-freeze-requests", response_model=FreezeRequestOut, status_code=202)
def request_freeze(ticket_id: int, body: FreezeIn, db: DB, principal: Write) -> FreezeRequestOut:
    """Ask the brand's system to freeze the account (its webhook is called after commit; 2xx records the freeze)."""
    ticket = get_ticket(db, ticket_id, principal)
    return FreezeRequestOut.model_validate(service.request_freeze(db, ticket, principal, body))


@router.get("/brands/{brand_id}/security-freeze-webhook", response_model=HookOut)
def get_hook(brand_id: int, db: DB, principal: Manage) -> HookOut:
    """The brand's freeze webhook (without its secret)."""
    hook = service.get_hook(db, brand_id, principal)
    if hook is None:
        raise NotFound.said("err_account_security_no_freeze_webhook")
    return HookOut.model_validate(hook)


@router.put("/brands/{brand_id}/security-freeze-webhook", response_model=HookOut)
def save_hook(brand_id: int, body: HookIn, db: DB, principal: Manage) -> HookOut:
    """Create or replace the brand's freeze webhook (URL and HMAC secret)."""
    return HookOut.model_validate(service.save_hook(db, brand_id, principal, body))


@router.delete("/brands/{brand_id}/security-freeze-webhook", status_code=204)
def delete_hook(brand_id: int, db: DB, principal: Manage) -> Response:
    """Remove the brand's freeze webhook."""
    service.delete_hook(db, brand_id, principal)
    return Response(status_code=204)


@router.get("/security-incidents/punctuality", response_model=service.Punctuality)
def punctuality(brand_id: int, start: date, end: date, db: DB, principal: Reports) -> service.Punctuality:
    """On-time rate per step of the ladder for cases opened between two dates (the brand's timezone)."""
    return service.punctuality(db, brand_id, principal, start=start, end=end)
