"""Routing endpoints: rules, team strategies, re-routing, manual and queue dispatch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from kefu.auth.deps import DB, require
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.auth.service import ensure_assignable
from kefu.brands.service import get_brand
from kefu.core.access import get_in_brand
from kefu.routing import service
from kefu.routing.models import RoutingRule
from kefu.routing.schemas import (
    DecisionOut,
    DispatchIn,
    DispatchOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    TeamRoutingIn,
    TeamRoutingOut,
)
from kefu.sla import service as sla
from kefu.tickets.schemas import TicketOut
from kefu.tickets.service import get_ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1/routing", tags=["routing"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Configure = Annotated[Principal, Depends(require("teams:manage"))]


@router.get("/rules", response_model=list[RuleOut])
def list_rules(brand_id: int, db: DB, principal: Read) -> list[RuleOut]:
    """A brand's routing rules in evaluation order."""
    get_brand(db, brand_id, principal)
    rows = db.scalars(
        select(RoutingRule).where(RoutingRule.brand_id == brand_id).order_by(RoutingRule.position, RoutingRule.id)
    )
    return [RuleOut.model_validate(r) for r in rows]


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, db: DB, principal: Configure) -> RuleOut:
    """Add a rule (admins and supervisors)."""
    return RuleOut.model_validate(service.create_rule(db, body, actor=principal))


@router.patch("/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: int, body: RuleUpdate, db: DB, principal: Configure) -> RuleOut:
    """Change a rule."""
    rule = service.get_rule(db, rule_id, principal)
    return RuleOut.model_validate(service.update_rule(db, rule, principal, body))


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, db: DB, principal: Configure) -> None:
    """Remove a rule."""
    service.delete_rule(db, service.get_rule(db, rule_id, principal), principal)


def _team(db: DB, team_id: int, principal: Principal) -> Team:
    team = get_in_brand(db, Team, team_id, principal, f"Team {team_id}")
    return team


@router.get("/teams/{team_id}", response_model=TeamRoutingOut)
def get_team_routing(team_id: int, db: DB, principal: Read) -> TeamRoutingOut:
    """A team's assignment strategy (manual when never configured)."""
    team = _team(db, team_id, principal)
    config = service.team_routing(db, team_id)
    if config is None:
        return TeamRoutingOut(
            team_id=team_id, brand_id=team.brand_id, strategy="manual", auto_assign=False, last_agent_id=None
        )
    return TeamRoutingOut.model_validate(config)


@router.put("/teams/{team_id}", response_model=TeamRoutingOut)
def set_team_routing(team_id: int, body: TeamRoutingIn, db: DB, principal: Configure) -> TeamRoutingOut:
    """Set a team's strategy: round_robin, least_loaded, skills or manual."""
    _team(db, team_id, principal)
    config = service.set_team_routing(db, team_id, principal, strategy=body.strategy, auto_assign=body.auto_assign)
    return TeamRoutingOut.model_validate(config)


@router.post("/teams/{team_id}/dispatch", response_model=DispatchOut)
def dispatch_team(team_id: int, db: DB, principal: Configure) -> DispatchOut:
    """Assign the team's queued tickets now."""
    _team(db, team_id, principal)
    return DispatchOut(assigned=service.dispatch_queue(db, team_id))


@router.get("/tickets/{ticket_id}/preview", response_model=DecisionOut)
def preview(ticket_id: int, db: DB, principal: Read) -> DecisionOut:
    """What the rules would decide for this ticket now (no change)."""
    ticket = get_ticket(db, ticket_id, principal)
    d = service.decide(db, ticket, keep_team=False)
    return DecisionOut(
        team_id=d.team_id, team_reason=d.team_reason, priority=d.priority, skills=d.skills, rules=d.rules
    )


@router.post("/tickets/{ticket_id}/reroute", response_model=DecisionOut)
def reroute(ticket_id: int, db: DB, principal: Write) -> DecisionOut:
    """Re-run the rules on a ticket: move it to the decided team and auto-assign there if unassigned."""
    ticket = get_ticket(db, ticket_id, principal)
    old_team = ticket.team_id
    d = service.apply_routing(db, ticket, principal, keep_team=False, apply_priority=False)
    if ticket.team_id != old_team:
        ticket.assignee_id = None
        sla.start_ticket_sla(db, ticket, set_priority=False, set_team=False)
    agent = service.auto_assign(db, ticket, principal)
    return DecisionOut(
        team_id=ticket.team_id,
        team_reason=d.team_reason,
        priority=None,
        skills=d.skills,
        rules=d.rules,
        assignee_id=agent.id if agent else ticket.assignee_id,
    )


@router.post("/tickets/{ticket_id}/dispatch", response_model=TicketOut)
def dispatch_ticket(ticket_id: int, body: DispatchIn, db: DB, principal: Configure) -> TicketOut:
    """Manual dispatch: a supervisor hands a ticket to an agent (availability and capacity are not enforced)."""
    ticket = get_ticket(db, ticket_id, principal)
    # One answer alike for a missing, inactive or other brand's agent (kefu.auth.service), so ids tell nothing.
    agent = ensure_assignable(db, body.agent_id, ticket.brand_id)
    service.assign(db, ticket, agent, principal, reason="dispatch")
    sla.refresh_ticket_sla(db, ticket)
    return TicketOut.model_validate(ticket)
