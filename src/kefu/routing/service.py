"""Routing: pick a ticket's team (B2B dedicated team, then rules), bump priority, and auto-assign an online agent.

Strategies per team (`TeamRouting`): ``round_robin`` (next online member after the last one picked),
``least_loaded`` (fewest active tickets, then lowest id), ``skills`` (only members having every required skill,
then least loaded) and ``manual`` (never auto-assigns; supervisors dispatch).  Only active members whose
availability is ``online`` and whose active load is below their capacity are candidates.  Active load counts
tickets in ``new``, ``open`` and ``on_hold`` — a ticket pending on the customer does not occupy the agent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Agent, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.auth.service import assignable_clause, ensure_assignable
from kefu.brands.service import get_brand
from kefu.core import configcache
from kefu.core.access import get_in_brand, ref_in_brand
from kefu.core.commands import build
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.core.events import publish
from kefu.core.jobs import enqueue
from kefu.customers.models import Customer, Organization
from kefu.routing.commands import CreateRoutingRule, UpdateRoutingRule, changes_of, ensure
from kefu.routing.models import STRATEGIES, RoutingRule, TeamRouting
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import PRIORITIES, Ticket, TicketPriority, TicketStatus
from kefu.tickets.timeline import add_activity, ticket_event, ticket_topics

ACTIVE_LOAD_STATUSES = ("new", "open", "on_hold")
CONDITION_KEYS = frozenset(
    {"category", "channel", "priority", "language", "vip", "organization", "organization_id", "tag", "tier"}
)
# Default category → team mapping; each category lists team slugs to try (seed names and demo names).
DEFAULT_CATEGORY_TEAMS: dict[str, tuple[str, ...]] = {
    "account_anomaly": ("security_center", "security"),
    "payment_failure": ("finance",),
    "refund": ("finance",),
    "complaint": ("content_review", "content-review"),
    "system_failure": ("ops",),
    "logistics": ("general",),
}


@dataclass
class RoutingDecision:
    """Outcome of evaluating the rules for one ticket."""

    team_id: int | None = None
    team_reason: str | None = None
    priority: TicketPriority | None = None
    skills: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def _norm(v: object) -> str:
    return str(v).strip().casefold()


def _ticket_facts(session: Session, ticket: Ticket) -> dict[str, Any]:
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    return {
        "category": ticket.category,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "language": ticket.language or (customer.locale if customer else None),
        "vip": bool(customer and customer.vip),
        "organization": ticket.organization_id is not None,
        "organization_id": ticket.organization_id,
        "tags": list(ticket.tags or []),
        "tier": customer.tier if customer else None,
    }


def rule_matches(conditions: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    """True when every condition holds; a list means any of its values; booleans compare as booleans."""
    for key, want in conditions.items():
        if key == "tag":
            wanted = want if isinstance(want, list) else [want]
            if not {_norm(w) for w in wanted} & {_norm(t) for t in facts.get("tags", [])}:
                return False
            continue
        have = facts.get(key)
        if isinstance(want, bool) or key in ("vip", "organization"):
            if bool(have) != bool(want):
                return False
            continue
        if have is None:
            return False
        options = want if isinstance(want, list) else [want]
        if key == "language":
            # Why: "zh" should match zh-TW and zh-CN alike.
            if not any(_norm(have) == _norm(o) or _norm(have).startswith(_norm(o) + "-") for o in options):
                return False
        elif _norm(have) not in {_norm(o) for o in options}:
            return False
    return True


@dataclass(frozen=True)
class _Rule:
    """What evaluation reads of a rule (a plain copy the process cache may share)."""

    name: str
    conditions: dict[str, Any]
    team_id: int | None
    set_priority: str | None
    priority_bump: int
    required_skills: tuple[Any, ...]
    stop: bool


def _rules(session: Session, brand_id: int) -> tuple[_Rule, ...]:
    def load() -> tuple[_Rule, ...]:
        rows = session.scalars(
            select(RoutingRule)
            .where(RoutingRule.brand_id == brand_id, RoutingRule.is_active.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
        )
        return tuple(
            _Rule(
                r.name,
                copy.deepcopy(dict(r.conditions or {})),
                r.team_id,
                r.set_priority,
                int(r.priority_bump or 0),
                tuple(r.required_skills or ()),
                bool(r.stop),
            )
            for r in rows
        )

    return configcache.cached(session, brand_id, "routing.rules", load)  # active rules change rarely


def bump(priority: str, steps: int) -> TicketPriority:
    """Priority raised by `steps` levels, capped at urgent."""
    i = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    return PRIORITIES[max(0, min(len(PRIORITIES) - 1, i + steps))]


def decide(session: Session, ticket: Ticket, *, keep_team: bool) -> RoutingDecision:
    """Evaluate routing for a ticket without changing it."""
    decision = RoutingDecision()
    facts = _ticket_facts(session, ticket)
    if keep_team and ticket.team_id is not None:
        decision.team_id, decision.team_reason = ticket.team_id, "explicit"
    elif ticket.organization_id is not None:
        org = session.get(Organization, ticket.organization_id)
        if org is not None and org.dedicated_team_id is not None:
            decision.team_id, decision.team_reason = org.dedicated_team_id, "organization"
    return _run_rules(session, ticket.brand_id, facts, decision, TicketPriority(ticket.priority))


def _run_rules(
    session: Session, brand_id: int, facts: Mapping[str, Any], decision: RoutingDecision, start: TicketPriority
) -> RoutingDecision:
    priority = start
    for rule in _rules(session, brand_id):
        if not rule_matches(rule.conditions, {**facts, "priority": priority}):
            continue
        decision.rules.append(rule.name)
        if rule.team_id is not None and decision.team_id is None:
            decision.team_id, decision.team_reason = rule.team_id, f"rule:{rule.name}"
        if rule.set_priority and PRIORITIES.index(rule.set_priority) > PRIORITIES.index(priority):
            priority = TicketPriority(rule.set_priority)
        if rule.priority_bump:
            priority = bump(priority, rule.priority_bump)
        decision.skills.extend(str(s) for s in rule.required_skills or [])
        if rule.stop:
            break
    if facts.get("language"):
        decision.skills.append(f"lang:{str(facts['language']).split('-')[0].lower()}")
    decision.skills = list(dict.fromkeys(decision.skills))
    decision.priority = priority if priority != start else None
    return decision


def dry_run(session: Session, brand_id: int, actor: Principal | None, facts: Mapping[str, Any]) -> RoutingDecision:
    """Which active rules a sample ticket (category, channel, priority, language, vip, tier, tags) would match."""
    get_brand(session, brand_id, actor)
    sample = {
        "category": facts.get("category") or None,
        "channel": facts.get("channel") or None,
        "priority": facts.get("priority") or "normal",
        "language": facts.get("language") or None,
        "vip": bool(facts.get("vip")),
        "organization": False,
        "organization_id": None,
        "tags": list(facts.get("tags") or []),
        "tier": facts.get("tier") or None,
    }
    start = TicketPriority(sample["priority"]) if sample["priority"] in PRIORITIES else TicketPriority.NORMAL
    return _run_rules(session, brand_id, sample, RoutingDecision(), start)


def move_rule(session: Session, rule: RoutingRule, actor: Principal | None, step: int) -> None:
    """Swap a rule with its neighbour (step -1 = earlier, +1 = later); positions are renumbered 10, 20, …"""
    rules = list(
        session.scalars(
            select(RoutingRule)
            .where(RoutingRule.brand_id == rule.brand_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )
    i = next(n for n, r in enumerate(rules) if r.id == rule.id)
    j = i + step
    if 0 <= j < len(rules):
        rules[i], rules[j] = rules[j], rules[i]
    for n, r in enumerate(rules, 1):
        r.position = n * 10
    session.flush()
    record(session, actor, "routing_rule.move", target_type="routing_rule", target_id=rule.id, brand_id=rule.brand_id)


def apply_routing(
    session: Session, ticket: Ticket, actor: Principal | None, *, keep_team: bool, apply_priority: bool = True
) -> RoutingDecision:
    """Set the team (an explicit team is kept when keep_team) and, at creation, the priority the rules decide."""
    decision = decide(session, ticket, keep_team=keep_team)
    if not apply_priority:
        decision.priority = None
    changed: dict[str, Any] = {}
    if decision.team_id is not None and decision.team_id != ticket.team_id:
        changed["team_id"] = [ticket.team_id, decision.team_id]
        ticket.team_id = decision.team_id
    if decision.priority is not None:
        changed["priority"] = [ticket.priority, decision.priority]
        ticket.priority = decision.priority
    if changed or decision.rules:
        add_activity(
            session,
            ticket,
            "route",
            data={"rules": decision.rules, "team_reason": decision.team_reason, "changed": changed},
        )
        session.flush()
    return decision


# --------------------------------------------------------------------------- assignment


def team_routing(session: Session, team_id: int) -> TeamRouting | None:
    """A team's routing configuration, if any."""
    return session.get(TeamRouting, team_id)


def agent_loads(session: Session, agent_ids: Sequence[int]) -> dict[int, int]:
    """Active tickets per agent."""
    if not agent_ids:
        return {}
    rows = session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(ACTIVE_LOAD_STATUSES))
        .group_by(Ticket.assignee_id)
    )
    loads = {a: 0 for a in agent_ids}
    loads.update({aid: int(n) for aid, n in rows if aid is not None})
    return loads


def candidates(session: Session, team_id: int, skills: Sequence[str] = ()) -> list[tuple[Agent, int]]:
    """Online, active team members under capacity (with their load), by agent id; `skills` all required."""
    agents = list(
        session.scalars(
            select(Agent)
            .join(TeamMember, TeamMember.agent_id == Agent.id)
            .where(TeamMember.team_id == team_id, Agent.is_active.is_(True), Agent.availability == "online")
            .where(assignable_clause(select(Team.brand_id).where(Team.id == team_id).scalar_subquery()))
            .order_by(Agent.id)
        )
    )
    need = {_norm(s) for s in skills}
    if need:
        agents = [a for a in agents if need <= {_norm(s) for s in a.skills or []}]
    if agents:
        from kefu.shifts.service import team_on_shift

        # A team that keeps a schedule gives new cases only to agents on shift (排班), even if they left "online" on.
        on_shift = team_on_shift(session, team_id)
        if on_shift is not None:
            agents = [a for a in agents if a.id in on_shift]
    loads = agent_loads(session, [a.id for a in agents])
    return [(a, loads[a.id]) for a in agents if loads[a.id] < a.capacity]


def pick_agent(session: Session, config: TeamRouting, skills: Sequence[str]) -> Agent | None:
    """Choose an agent for the team's next ticket according to its strategy."""
    if config.strategy == "manual" or not config.auto_assign:
        return None
    if config.strategy == "skills":
        pool = candidates(session, config.team_id, skills)
    else:
        # Why: language/rule skills are a preference for the other strategies, not a hard filter.
        pool = candidates(session, config.team_id, skills) or candidates(session, config.team_id)
    if not pool:
        return None
    if config.strategy == "round_robin":
        after = [a for a, _ in pool if config.last_agent_id is None or a.id > config.last_agent_id]
        return after[0] if after else pool[0][0]
    return min(pool, key=lambda p: (p[1] / max(p[0].capacity, 1), p[1], p[0].id))[0]


def assign(
    session: Session, ticket: Ticket, agent: Agent, actor: Principal | None, *, reason: str = "manual"
) -> Ticket:
    """Assign a ticket to an agent: status new → open, timeline, audit, realtime event and a notification."""
    ensure_assignable(session, agent.id, ticket.brand_id)  # same brand, may reply (kefu.auth.service)
    before = ticket.assignee_id
    ticket.assignee_id = agent.id
    if ticket.status == TicketStatus.NEW:
        ticket.status = TicketStatus.OPEN
    ticket.updated_at = utcnow()
    add_activity(
        session, ticket, "assign", agent_id=actor.agent_id if actor else None, data={"to": agent.id, "reason": reason}
    )
    session.flush()
    record(
        session,
        actor,
        "ticket.assign",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"from": before, "to": agent.id, "reason": reason},
    )
    publish(
        session,
        "ticket.assigned",
        {**ticket_event(ticket), "reason": reason},
        (*ticket_topics(ticket), f"agent:{agent.id}"),
    )
    notify(
        session,
        [agent.id],
        "ticket.assigned",
        localized("notif_ticket_assigned", number=ticket.number),
        brand_id=ticket.brand_id,
        body=ticket.subject,
        ticket_id=ticket.id,
        data={"reason": reason},
    )
    return ticket


def auto_assign(session: Session, ticket: Ticket, actor: Principal | None = None) -> Agent | None:
    """Assign an unassigned open ticket in an auto-assigning team, if an online agent has room."""
    if ticket.assignee_id is not None or ticket.team_id is None or ticket.status not in ("new", "open"):
        return None
    config = session.get(TeamRouting, ticket.team_id)
    if config is None or config.strategy == "manual" or not config.auto_assign:
        return None
    if session.get_bind().dialect.name == "postgresql":
        # Serialise pickers per team so round-robin and capacity checks see each other's choices.
        session.execute(select(TeamRouting).where(TeamRouting.team_id == config.team_id).with_for_update())
    agent = pick_agent(session, config, decide(session, ticket, keep_team=True).skills)
    if agent is None:
        return None
    config.last_agent_id = agent.id
    assign(session, ticket, agent, actor, reason=config.strategy)
    return agent


def route_new_ticket(
    session: Session, ticket: Ticket, actor: Principal | None, *, explicit_team: bool, apply_priority: bool = True
) -> RoutingDecision:
    """Routing step of ticket creation: team and priority from rules (assignment happens after SLA)."""
    return apply_routing(session, ticket, actor, keep_team=explicit_team, apply_priority=apply_priority)


def request_dispatch(session: Session, team_id: int | None) -> None:
    """After commit, try to hand the team's queued tickets to agents (capacity may have freed up)."""
    if team_id is None:
        return
    config = session.get(TeamRouting, team_id)
    if config is not None and config.auto_assign and config.strategy != "manual":
        enqueue(session, "routing.dispatch", {"team_id": team_id})


_PRIORITY_ORDER = case({p: i for i, p in enumerate(reversed(PRIORITIES))}, value=Ticket.priority, else_=len(PRIORITIES))


def dispatch_queue(session: Session, team_id: int, *, limit: int = 100) -> int:
    """Assign queued (unassigned new/open) tickets of a team, most urgent and oldest first; returns how many."""
    config = session.get(TeamRouting, team_id)
    if config is None or config.strategy == "manual" or not config.auto_assign:
        return 0
    queued = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.team_id == team_id, Ticket.assignee_id.is_(None), Ticket.status.in_(("new", "open")))
            .order_by(_PRIORITY_ORDER, Ticket.created_at, Ticket.id)
            .limit(limit)
        )
    )
    done = 0
    for ticket in queued:
        if auto_assign(session, ticket) is None:
            if not candidates(session, team_id):
                break
            continue
        done += 1
    return done


# --------------------------------------------------------------------------- configuration


def _check_team(session: Session, brand_id: int, team_id: int | None) -> None:
    if team_id is None:
        return
    ref_in_brand(session, Team, team_id, brand_id, "err_core_team_not_in_brand", team_id=team_id)


def _check_rule(conditions: Mapping[str, Any], set_priority: str | None) -> None:
    unknown = set(conditions) - CONDITION_KEYS
    if unknown:
        raise InvalidInput.said("err_routing_unknown_conditions", unknown=sorted(unknown), known=sorted(CONDITION_KEYS))
    if set_priority is not None and set_priority not in PRIORITIES:
        raise InvalidInput.said("err_routing_bad_priority", choices=", ".join(PRIORITIES))


def create_rule(
    session: Session, command: CreateRoutingRule | Mapping[str, Any], *, actor: Principal | None
) -> RoutingRule:
    """Add a routing rule to a brand (a plain mapping is validated into the command first)."""
    fields = ensure(CreateRoutingRule, command).model_dump()
    brand_id = fields.pop("brand_id")
    get_brand(session, brand_id, actor)
    _check_team(session, brand_id, fields.get("team_id"))
    _check_rule(fields.get("conditions") or {}, fields.get("set_priority"))
    if fields.get("position") is None:
        fields["position"] = (
            session.scalar(select(func.max(RoutingRule.position)).where(RoutingRule.brand_id == brand_id)) or 0
        ) + 10
    rule = RoutingRule(brand_id=brand_id, **fields)
    session.add(rule)
    session.flush()
    record(session, actor, "routing_rule.create", target_type="routing_rule", target_id=rule.id, brand_id=brand_id)
    return rule


def get_rule(session: Session, rule_id: int, actor: Principal | None) -> RoutingRule:
    """A routing rule (404 when missing or in another brand)."""
    rule = get_in_brand(session, RoutingRule, rule_id, actor, f"Routing rule {rule_id}")
    return rule


def update_rule(
    session: Session, rule: RoutingRule, actor: Principal | None, command: UpdateRoutingRule | Mapping[str, Any]
) -> RoutingRule:
    """Change a routing rule: the fields the command sets."""
    changes = changes_of(ensure(UpdateRoutingRule, command))
    if "team_id" in changes:
        _check_team(session, rule.brand_id, changes["team_id"])
    _check_rule(changes.get("conditions") or {}, changes.get("set_priority"))
    for key, value in changes.items():
        if value is None and key not in ("team_id", "set_priority"):
            continue
        setattr(rule, key, value)
    session.flush()
    record(
        session,
        actor,
        "routing_rule.update",
        target_type="routing_rule",
        target_id=rule.id,
        brand_id=rule.brand_id,
        details={"fields": sorted(changes)},
    )
    return rule


def delete_rule(session: Session, rule: RoutingRule, actor: Principal | None) -> None:
    """Remove a routing rule."""
    record(session, actor, "routing_rule.delete", target_type="routing_rule", target_id=rule.id, brand_id=rule.brand_id)
    session.delete(rule)
    session.flush()


def set_team_routing(
    session: Session, team_id: int, actor: Principal | None, *, strategy: str, auto_assign: bool
) -> TeamRouting:
    """Configure how a team's queue is assigned."""
    team = get_in_brand(session, Team, team_id, actor, f"Team {team_id}")
    if strategy not in STRATEGIES:
        raise InvalidInput.said("err_routing_bad_strategy", choices=", ".join(STRATEGIES))
    config = session.get(TeamRouting, team_id)
    if config is None:
        config = TeamRouting(team_id=team_id, brand_id=team.brand_id)
        session.add(config)
    config.strategy, config.auto_assign, config.updated_at = strategy, auto_assign, utcnow()
    session.flush()
    record(
        session,
        actor,
        "team_routing.set",
        target_type="team",
        target_id=team_id,
        brand_id=team.brand_id,
        details={"strategy": strategy, "auto_assign": auto_assign},
    )
    return config


def install_default_routing(session: Session, brand_id: int, actor: Principal | None) -> dict[str, int]:
    """Category → team rules for teams that exist, a VIP priority bump, and least-loaded auto-assignment."""
    get_brand(session, brand_id, actor)
    teams = {t.slug: t for t in session.scalars(select(Team).where(Team.brand_id == brand_id))}
    existing = set(session.scalars(select(RoutingRule.name).where(RoutingRule.brand_id == brand_id)))
    added = {"rules": 0, "teams": 0}
    for category, slugs in DEFAULT_CATEGORY_TEAMS.items():
        team = next((teams[s] for s in slugs if s in teams), None)
        name = f"category:{category}"
        if team is None or name in existing:
            continue
        create_rule(
            session,
            build(
                CreateRoutingRule,
                {"brand_id": brand_id, "name": name, "conditions": {"category": category}, "team_id": team.id},
            ),
            actor=actor,
        )
        added["rules"] += 1
    if "vip" not in existing:
        create_rule(
            session,
            build(
                CreateRoutingRule,
                {"brand_id": brand_id, "name": "vip", "conditions": {"vip": True}, "priority_bump": 1},
            ),
            actor=actor,
        )
        added["rules"] += 1
    for team in teams.values():
        if session.get(TeamRouting, team.id) is None:
            set_team_routing(session, team.id, actor, strategy="least_loaded", auto_assign=True)
            added["teams"] += 1
    return added


def brand_rules(session: Session, brand_id: int) -> list[RoutingRule]:
    """A brand's routing rules in evaluation order."""
    stmt = select(RoutingRule).where(RoutingRule.brand_id == brand_id).order_by(RoutingRule.position, RoutingRule.id)
    return list(session.scalars(stmt))


def team_configs(session: Session, brand_id: int) -> dict[int, TeamRouting]:
    """Each configured team's queue settings in a brand, by team id."""
    return {t.team_id: t for t in session.scalars(select(TeamRouting).where(TeamRouting.brand_id == brand_id))}
