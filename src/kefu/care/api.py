"""Care endpoints: rules (admin), the opportunity queue and its actions (agents), outcomes (reports), and the
widget's page/step reports (visitor token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.care import flow, service
from kefu.care.schemas import (
    ConvertIn,
    DismissIn,
    FlowEventIn,
    OpportunityOut,
    OpportunityPage,
    ReachOutIn,
    RulesIn,
)
from kefu.channels.service import get_inbox
from kefu.channels.web_chat.token import verify
from kefu.core.errors import Unauthorized
from kefu.privacy.masking import can_reveal
from kefu.privacy.pii import mask_name
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["care"])
Read = Annotated[Principal, Depends(require("conversations:read"))]
Write = Annotated[Principal, Depends(require("conversations:write"))]
Cases = Annotated[Principal, Depends(require("tickets:write"))]
Configure = Annotated[Principal, Depends(require("teams:manage"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


def out(principal: Principal, row: service.Row) -> OpportunityOut:
    """API shape of an opportunity (the customer's name masked without pii:reveal)."""
    o = row.opp
    return OpportunityOut(
        id=o.id,
        brand_id=o.brand_id,
        customer_id=o.customer_id,
        customer_name=row.customer_name if can_reveal(principal) else mask_name(row.customer_name),
        reason=str(o.reason),
        status=str(o.status),
        evidence=dict(o.evidence or {}),
        detected_at=o.detected_at,
        decided_at=o.decided_at,
        decided_by=o.decided_by,
        dismiss_note=o.dismiss_note,
        conversation_id=o.conversation_id,
        message_id=o.message_id,
        ticket_id=o.ticket_id,
    )


def _one(db: DB, principal: Principal, opportunity_id: int) -> OpportunityOut:
    rows = service.queue(db, principal, status=None, opportunity_id=opportunity_id, limit=1)
    return out(principal, rows[0])


@router.get("/brands/{brand_id}/care-rules", response_model=RulesIn)
def get_rules(brand_id: int, db: DB, principal: Read) -> RulesIn:
    """A brand's care detection rules (defaults where unset)."""
    return RulesIn.model_validate(service.get_rules(db, principal, brand_id).model_dump())


@router.put("/brands/{brand_id}/care-rules", response_model=RulesIn)
def put_rules(brand_id: int, body: RulesIn, db: DB, principal: Configure) -> RulesIn:
    """Replace a brand's care detection rules."""
    return RulesIn.model_validate(service.set_rules(db, principal, brand_id, body).model_dump())


@router.get("/care", response_model=OpportunityPage)
def care_queue(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: str = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> OpportunityPage:
    """Care opportunities, newest first (`status`: open, reached_out, converted, dismissed; empty for all)."""
    rows = service.queue(db, principal, brand_id=brand_id, status=status, limit=limit)
    return OpportunityPage(items=[out(principal, r) for r in rows])


@router.get("/care/stats", response_model=service.CareStats)
def care_stats(brand_id: int, start: datetime, end: datetime, db: DB, principal: Reports) -> service.CareStats:
    """Opportunities detected in a period, per reason, and their outcomes (reply within 48 h after reaching out)."""
    aware = [v if v.tzinfo else v.replace(tzinfo=UTC) for v in (start, end)]
    return service.stats(db, brand_id, principal, start=aware[0], end=aware[1])


@router.get("/care/{opportunity_id}", response_model=OpportunityOut)
def get_opportunity(opportunity_id: int, db: DB, principal: Read) -> OpportunityOut:
    """One care opportunity."""
    service.get_opportunity(db, opportunity_id, principal)
    return _one(db, principal, opportunity_id)


@router.post("/care/{opportunity_id}/reach-out", response_model=OpportunityOut)
def reach_out(opportunity_id: int, body: ReachOutIn, db: DB, principal: Write) -> OpportunityOut:
    """Message the customer on their own channel (409 `no_consent` when they withdrew outreach consent)."""
    service.reach_out(db, service.get_opportunity(db, opportunity_id, principal), principal, body)
    return _one(db, principal, opportunity_id)


@router.post("/care/{opportunity_id}/dismiss", response_model=OpportunityOut)
def dismiss(opportunity_id: int, body: DismissIn, db: DB, principal: Write) -> OpportunityOut:
    """Close without contact, with a reason."""
    service.dismiss(db, service.get_opportunity(db, opportunity_id, principal), principal, body)
    return _one(db, principal, opportunity_id)


@router.post("/care/{opportunity_id}/convert", response_model=OpportunityOut)
def convert(opportunity_id: int, body: ConvertIn, db: DB, principal: Cases) -> OpportunityOut:
    """Open a case for the customer from the opportunity."""
    service.convert(db, service.get_opportunity(db, opportunity_id, principal), principal, body)
    return _one(db, principal, opportunity_id)


VisitorHeader = Annotated[str | None, Header(alias="X-Kefu-Visitor")]


@router.post("/widget/flow", status_code=204)
def widget_flow(body: FlowEventIn, db: DB, x_kefu_visitor: VisitorHeader = None) -> Response:
    """The widget reports the visitor's page and flow step (visitor token; at most 20 a minute)."""
    visitor = verify(x_kefu_visitor)
    if visitor is None:
        raise Unauthorized.said("err_care_visitor_token")
    inbox = get_inbox(db, visitor.inbox_id, "web_chat")
    flow.record_flow_event(db, inbox, visitor.visitor_id, body.path, body.step)
    return Response(status_code=204)
