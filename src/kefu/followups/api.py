"""Follow-up visit endpoints: rules (admin), the queue and outcomes (agents), figures (reports)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Response

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.followups import service
from kefu.followups.models import FollowUp
from kefu.followups.schemas import FollowUpOut, FollowUpPage, OutcomeIn, RuleIn, RuleOut
from kefu.tickets.models import Ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["follow-ups"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Configure = Annotated[Principal, Depends(require("teams:manage"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


def out(f: FollowUp, t: Ticket) -> FollowUpOut:
    """API shape of a follow-up with its case."""
    return FollowUpOut(
        id=f.id,
        brand_id=f.brand_id,
        ticket_id=t.id,
        ticket_number=t.number,
        subject=t.subject,
        customer_id=t.customer_id,
        attempt=f.attempt,
        of_attempts=f.of_attempts,
        assignee_id=f.assignee_id,
        due_at=f.due_at,
        status=f.status,
        outcome=f.result,
        note=f.note,
        done_at=f.done_at,
    )


@router.post("/follow-up-rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, db: DB, principal: Configure) -> RuleOut:
    """Add a rule: which resolved cases get follow-up contacts, how many, within how many days."""
    return RuleOut.model_validate(service.create_rule(db, principal, body))


@router.get("/follow-up-rules", response_model=list[RuleOut])
def list_rules(brand_id: int, db: DB, principal: Read) -> list[RuleOut]:
    """A brand's follow-up rules."""
    return [RuleOut.model_validate(r) for r in service.list_rules(db, principal, brand_id)]


@router.delete("/follow-up-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, db: DB, principal: Configure) -> Response:
    """Remove a rule (planned follow-ups stay)."""
    service.delete_rule(db, service.get_rule(db, rule_id, principal), principal)
    return Response(status_code=204)


@router.get("/follow-ups", response_model=FollowUpPage)
def follow_up_queue(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    assignee_id: int | None = None,
    mine: bool = False,
    status: str = "pending",
    due: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> FollowUpPage:
    """The follow-up queue: pending contacts, earliest due first (`mine`, `due` narrow it)."""
    rows = service.queue(
        db,
        principal,
        brand_id=brand_id,
        assignee_id=principal.agent_id if mine else assignee_id,
        status=status,
        due_only=due,
        limit=limit,
    )
    return FollowUpPage(items=[out(f, t) for f, t in rows])


@router.post("/follow-ups/{follow_up_id}/outcome", response_model=FollowUpOut)
def record_outcome(follow_up_id: int, body: OutcomeIn, db: DB, principal: Write) -> FollowUpOut:
    """Record a contact: reached, not reached, or re-opened (the case goes back to open)."""
    f = service.record_outcome(
        db, service.get_follow_up(db, follow_up_id, principal), principal, body.outcome, body.note
    )
    t = db.get(Ticket, f.ticket_id)
    assert t is not None
    return out(f, t)


@router.get("/follow-ups/stats", response_model=service.FollowUpStats)
def follow_up_stats(brand_id: int, start: datetime, end: datetime, db: DB, principal: Reports) -> service.FollowUpStats:
    """Follow-ups due in a period: done on time, reached, not reached, re-opened, overdue; reach rate per case."""
    aware = [v if v.tzinfo else v.replace(tzinfo=UTC) for v in (start, end)]
    return service.stats(db, brand_id, principal, start=aware[0], end=aware[1])
