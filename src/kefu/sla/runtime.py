"""SLA runtime: per-ticket SLA state, pauses, the sweep, warnings and escalation.

Deadlines are computed (calendar arithmetic) only when a ticket is (re)evaluated; the stored per-target
``due_at``/``warn_at`` and the ticket's ``next_check_at`` let the sweep pick, with one indexed range query, just
the tickets that have something to check now.  Evaluation always recomputes from the ticket's own timestamps
(first response, resolution, pauses, latest public update), so changes made by other packages (e.g. an agent
reply setting ``first_response_at``) are honoured at the next check.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from kefu.auth.models import TeamMember
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.core.access import scope_to_brands
from kefu.core.catalog import gettext
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput, NotFound
from kefu.core.events import publish
from kefu.customers.models import Customer
from kefu.sla.calendar import BusinessCalendar, Pause
from kefu.sla.configuration import (
    PRIORITY_RANK,
    _parse_policy,
    active_policies,
    calendars_for,
    normalize_priority,
    policy_problem,
    team_slugs,
)
from kefu.sla.labels import target_name
from kefu.sla.models import (
    EscalationContact,
    Notification,
    SlaPause,
    TicketSla,
    TicketSlaTarget,
)
from kefu.sla.notifications import announce, build
from kefu.sla.policy import (
    DEFAULT_SERVICE_TIER,
    SERVICE_TIERS,
    Deadline,
    SlaPolicy,
    compute_deadlines,
    escalation_level,
    match_policy,
)
from kefu.tickets.config import BrandSnapshot, brand_snapshot
from kefu.tickets.models import Ticket

log = logging.getLogger("kefu.sla")

_TICK = timedelta(microseconds=1)  # breach and climbs happen strictly after their instant
_SEVERITY = {"met": 0, "missed": 1, "paused": 2, "running": 3, "warning": 4, "breached": 5}


# --------------------------------------------------------------------------- matching


def _team_slug(session: Session, brand_id: int, team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return next((slug for id_, slug in team_slugs(session, brand_id) if id_ == team_id), None)


def ticket_attributes(session: Session, ticket: Ticket) -> dict[str, object]:
    """Attributes a policy may condition on: custom fields, then category, priority, channel, tier, vip, team…"""
    attrs: dict[str, object] = {
        k: v for k, v in (ticket.custom_fields or {}).items() if isinstance(v, str | int | float | bool)
    }
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    try:
        brand: BrandSnapshot | None = brand_snapshot(session, ticket.brand_id)
    except NotFound:
        brand = None
    tier = attrs.get("tier") or service_tier(brand)
    attrs.update(
        {
            "member_tier": str(customer.tier) if customer is not None else None,
            "category": ticket.category,
            "priority": ticket.priority,
            "channel": ticket.channel,
            "tier": tier,
            "vip": "true" if customer is not None and customer.vip else "false",
            "organization": "true" if ticket.organization_id else "false",
            "language": ticket.language,
            "team": _team_slug(session, ticket.brand_id, ticket.team_id),
        }
    )
    return {k: v for k, v in attrs.items() if v is not None}


def service_tier(brand: Brand | BrandSnapshot | None) -> str:
    """The brand's service tier (setting ``sla_tier``), else the documented default."""
    tier = (brand.settings or {}).get("sla_tier") if brand is not None else None
    return str(tier) if tier else DEFAULT_SERVICE_TIER


def known_tiers(session: Session, brand_id: int) -> dict[str, str]:
    """Tiers a brand may choose: the built-in ones and any tier its own policies are written for."""
    out = dict(SERVICE_TIERS)
    for _, policy in active_policies(session, brand_id):
        cond = policy.conditions.get("tier")
        for name in cond if isinstance(cond, list) else [cond] if cond else []:
            out.setdefault(str(name), policy.description or policy.name)
    return out


def check_tier(session: Session, brand_id: int, tier: object) -> str:
    """Validate a brand's service tier choice."""
    tiers = known_tiers(session, brand_id)
    if not isinstance(tier, str) or tier not in tiers:
        raise InvalidInput.said("err_sla_bad_tier", choices=", ".join(sorted(tiers)))
    return tier


def _find_team(session: Session, brand_id: int, slug: str) -> int | None:
    variants = {slug, slug.replace("_", "-"), slug.replace("-", "_")}
    return next((id_ for id_, s in team_slugs(session, brand_id) if s in variants), None)


def start_ticket_sla(
    session: Session,
    ticket: Ticket,
    now: datetime | None = None,
    *,
    set_priority: bool = True,
    set_team: bool = True,
    fresh: bool = False,
) -> TicketSla | None:
    """Match the brand's policies and (re)start the ticket's SLA, applying the policy's priority floor and team."""
    # fresh: the ticket was created in this transaction, so there is no SLA state to look up yet.
    now = now or utcnow()
    policies = active_policies(session, ticket.brand_id)
    chosen = match_policy([p for _, p in policies], ticket_attributes(session, ticket)) if policies else None
    state = None if fresh else session.get(TicketSla, ticket.id)
    if chosen is None:
        if state is not None:
            session.execute(delete(TicketSlaTarget).where(TicketSlaTarget.ticket_id == ticket.id))
            session.delete(state)
            session.flush()
        return None
    rec = next(r for r, p in policies if p is chosen)
    floor = normalize_priority(chosen.sets_priority)
    if set_priority and floor is not None and PRIORITY_RANK[floor] > PRIORITY_RANK.get(ticket.priority, 1):
        ticket.priority = floor
    if set_team and ticket.team_id is None and chosen.team:
        team_id = _find_team(session, ticket.brand_id, chosen.team)
        if team_id is not None:
            ticket.team_id = team_id
    if state is None:
        state = TicketSla(ticket_id=ticket.id, brand_id=ticket.brand_id, milestones={})
        session.add(state)
    if state.policy_id != rec.id or state.policy_name != rec.name or state.policy != rec.definition:
        state.policy_id, state.policy_name, state.policy = rec.id, rec.name, copy.deepcopy(dict(rec.definition))
    session.flush()
    return refresh_ticket_sla(session, ticket, now, fresh=fresh)


# --------------------------------------------------------------------------- evaluation


@dataclass
class SweepResult:
    """What one evaluation pass did."""

    checked: int = 0
    warned: int = 0
    breached: int = 0
    escalated: int = 0
    notifications: int = 0

    def add(self, other: SweepResult) -> None:
        """Accumulate another pass."""
        for k in ("checked", "warned", "breached", "escalated", "notifications"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class _Context:
    """Per-pass caches (calendars per brand/team, parsed policy snapshots, leads, contacts)."""

    session: Session
    result: SweepResult = field(default_factory=SweepResult)
    calendars: dict[tuple[int, int | None], dict[str, BusinessCalendar]] = field(default_factory=dict)
    policies: dict[str, SlaPolicy | None] = field(default_factory=dict)
    contacts: dict[int, list[tuple[str, int, int | None]]] = field(default_factory=dict)
    leads: dict[int, list[int]] = field(default_factory=dict)
    pending: list[Notification] = field(default_factory=list)

    def recipients(self, ticket: Ticket, level: str) -> list[int]:
        """Cached `recipients` for a batch."""
        if ticket.brand_id not in self.contacts:
            rows = self.session.execute(
                select(EscalationContact.level, EscalationContact.agent_id, EscalationContact.team_id)
                .where(EscalationContact.brand_id == ticket.brand_id)
                .order_by(EscalationContact.agent_id)
            )
            self.contacts[ticket.brand_id] = [(lv, a, t) for lv, a, t in rows]
        contacts = [a for lv, a, t in self.contacts[ticket.brand_id] if lv == level and t in (None, ticket.team_id)]
        leads: list[int] = []
        if ticket.team_id is not None and level in ("agent", "team_lead"):
            if ticket.team_id not in self.leads:
                self.leads[ticket.team_id] = _team_leads(self.session, ticket.team_id)
            leads = self.leads[ticket.team_id]
        return _pick(level, ticket.assignee_id, leads, contacts)

    def publish_pending(self) -> None:
        """Flush queued notifications once and publish them (after commit)."""
        if self.pending:
            self.session.flush()
            announce(self.session, self.pending)
            self.pending = []

    def calendars_for(self, brand_id: int, team_id: int | None) -> dict[str, BusinessCalendar]:
        key = (brand_id, team_id)
        if key not in self.calendars:
            self.calendars[key] = calendars_for(self.session, brand_id, team_id)
        return self.calendars[key]

    def policy(self, state: TicketSla) -> SlaPolicy | None:
        key = state.policy_name + json.dumps(state.policy, sort_keys=True)
        if key not in self.policies:
            problem = policy_problem(state.policy_name, state.policy)
            if problem is not None:  # a snapshot older than a rule: the ticket's clock waits, the rest goes on
                log.warning(
                    "ticket %s: SLA snapshot %r does not parse, not evaluated: %s",
                    state.ticket_id,
                    state.policy_name,
                    problem,
                )
                self.policies[key] = None
            else:
                self.policies[key] = _parse_policy(state.policy_name, state.policy)
        return self.policies[key]


def _pauses(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[Pause]]:
    out: dict[int, list[Pause]] = {}
    rows = session.execute(
        select(SlaPause.ticket_id, SlaPause.started_at, SlaPause.ended_at).where(SlaPause.ticket_id.in_(ticket_ids))
    )
    for tid, start, end in rows:
        out.setdefault(tid, []).append((start, end))
    return out


def _last_updates(session: Session, tickets: Iterable[Ticket]) -> dict[int, datetime]:
    """Latest public update per ticket: a public timeline entry or an agent reply in a linked conversation."""
    ts = list(tickets)
    out: dict[int, datetime] = {t.id: t.last_public_update_at for t in ts if t.last_public_update_at is not None}
    if not ts:
        return out
    rows = session.execute(
        select(Conversation.ticket_id, func.max(Message.created_at))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.ticket_id.in_([t.id for t in ts]),
            Message.sender_type == "agent",
            Message.is_note.is_(False),
        )
        .group_by(Conversation.ticket_id)
    )
    for tid, at in rows:
        if tid is not None and at is not None and (tid not in out or at > out[tid]):
            out[tid] = at
    return out


def _team_leads(session: Session, team_id: int | None) -> list[int]:
    if team_id is None:
        return []
    return list(
        session.scalars(
            select(TeamMember.agent_id)
            .where(TeamMember.team_id == team_id, TeamMember.is_lead.is_(True))
            .order_by(TeamMember.agent_id)
        )
    )


def recipients(session: Session, ticket: Ticket, level: str) -> list[int]:
    """Agents to notify at an escalation level: the assignee, the team's leads, or the brand's contacts."""
    contacts = list(
        session.scalars(
            select(EscalationContact.agent_id)
            .where(
                EscalationContact.brand_id == ticket.brand_id,
                EscalationContact.level == level,
                or_(EscalationContact.team_id.is_(None), EscalationContact.team_id == ticket.team_id),
            )
            .order_by(EscalationContact.agent_id)
        )
    )
    leads = _team_leads(session, ticket.team_id) if level in ("agent", "team_lead") else []
    return _pick(level, ticket.assignee_id, leads, contacts)


def _pick(level: str, assignee_id: int | None, leads: list[int], contacts: list[int]) -> list[int]:
    if level == "agent":
        return [assignee_id] if assignee_id else (leads or contacts)
    if level == "team_lead":
        return list(dict.fromkeys(leads + contacts))
    return contacts


def _label(d: Deadline) -> str:
    return d.label or d.key


def _announce(
    ctx: _Context, ticket: Ticket, kind: str, level: str, d: Deadline, extra: dict[str, Any] | None = None
) -> None:
    session = ctx.session
    data = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "target": d.key,
        "label": _label(d),
        "due_at": d.due_at.isoformat() if d.due_at else None,
        "level": level,
        **(extra or {}),
    }
    number = ticket.number

    def title(locale: str) -> str:
        who = gettext(f"esc_level_{level}", locale)
        return gettext(f"notif_{kind.replace('.', '_')}", locale).format(
            number=number,
            target=target_name(d.kind, d.key, locale),
            level=level if who == f"esc_level_{level}" else who,
        )

    sent = build(
        session,
        ctx.recipients(ticket, level),
        kind,
        title,
        brand_id=ticket.brand_id,
        body=ticket.subject,
        ticket_id=ticket.id,
        data=data,
    )
    ctx.pending.extend(sent)
    ctx.result.notifications += len(sent)
    event = {"sla.warning": "sla.warning", "sla.breach": "sla.breached", "sla.escalation": "sla.escalated"}[kind]
    publish(session, event, data, (f"brand:{ticket.brand_id}", f"ticket:{ticket.id}"))


def _evaluate(
    ctx: _Context,
    ticket: Ticket,
    state: TicketSla,
    targets: dict[str, TicketSlaTarget],
    pauses: Sequence[Pause],
    last_update: datetime | None,
    now: datetime,
) -> None:
    session = ctx.session
    policy = ctx.policy(state)
    if policy is None:
        return
    calendars = ctx.calendars_for(ticket.brand_id, ticket.team_id)
    milestones = {k: datetime.fromisoformat(v) for k, v in (state.milestones or {}).items()}
    deadlines = compute_deadlines(
        policy,
        calendars,
        ticket.created_at,
        pauses,
        ticket.first_response_at,
        last_update,
        resolved_at=ticket.resolved_at,
        survey_sent_at=state.survey_sent_at,
        milestones=milestones,
    )
    ctx.result.checked += 1
    checks: list[datetime] = []
    statuses: list[str] = []
    levels: list[int] = [0]
    for key, d in deadlines.items():
        row = targets.pop(key, None)
        if row is None or row.started_at != d.started_at:
            # A new clock (or a new next-update cycle) starts with fresh notification state.
            if row is None:
                row = TicketSlaTarget(ticket_id=ticket.id, brand_id=ticket.brand_id, key=key)
                session.add(row)
            row.warned_at = row.breached_at = None
            row.escalation_level = 0
        row.kind, row.label, row.business = d.kind, d.label, d.business
        row.started_at, row.due_at, row.warn_at, row.met_at = d.started_at, d.due_at, d.warn_at, d.met_at
        status = d.status(now)
        row.status = status
        statuses.append(status)
        levels.append(row.escalation_level)
        if status in ("met", "missed", "paused"):
            if status == "missed":
                state.breached = True
                row.breached_at = row.breached_at or d.due_at
            continue
        assert d.due_at is not None
        if status == "warning" and row.warned_at is None:
            row.warned_at = now
            ctx.result.warned += 1
            _announce(ctx, ticket, "sla.warning", policy.escalation.levels[0], d)
        if status == "breached" and row.breached_at is None:
            row.breached_at = now
            state.breached = True
            ctx.result.breached += 1
            _announce(ctx, ticket, "sla.breach", policy.escalation.levels[0], d)
        esc = escalation_level(d, now, policy.escalation)
        if esc.level > row.escalation_level:
            for lv in range(row.escalation_level + 1, esc.level + 1):
                _announce(ctx, ticket, "sla.escalation", policy.escalation.levels[lv], d, {"step": lv})
            ctx.result.escalated += 1
            row.escalation_level = esc.level
            levels.append(esc.level)
        if row.warned_at is None and d.warn_at is not None and d.warn_at > now:
            checks.append(d.warn_at)
        if row.breached_at is None:
            checks.append(d.due_at + _TICK)
        if esc.next_at is not None:
            checks.append(esc.next_at + _TICK)
    for stale in targets.values():  # e.g. the CSAT clock after a reopen
        session.delete(stale)
    state.status = max(statuses, key=lambda s: _SEVERITY[s]) if statuses else "met"
    state.escalation_level = max(levels)
    nxt = min(checks) if checks else None
    state.next_check_at = max(nxt, now + _TICK) if nxt is not None else None
    state.updated_at = now


def refresh_ticket_sla(
    session: Session, ticket: Ticket, now: datetime | None = None, *, fresh: bool = False
) -> TicketSla | None:
    """Re-evaluate one ticket's SLA now (deadlines, met/breached, warnings, escalation, next check)."""
    # fresh: the SLA state was started in this transaction, so there are no stored targets or pauses to read.
    now = now or utcnow()
    state = session.get(TicketSla, ticket.id)
    if state is None:
        return None
    targets = (
        {}
        if fresh
        else {t.key: t for t in session.scalars(select(TicketSlaTarget).where(TicketSlaTarget.ticket_id == ticket.id))}
    )
    ctx = _Context(session)
    _evaluate(
        ctx,
        ticket,
        state,
        targets,
        [] if fresh else _pauses(session, [ticket.id]).get(ticket.id, []),
        _last_updates(session, [ticket]).get(ticket.id),
        now,
    )
    ctx.publish_pending()
    session.flush()
    return state


def sweep(session: Session, now: datetime | None = None, *, limit: int = 1000) -> SweepResult:
    """Evaluate up to `limit` tickets whose next check time has passed (one batch; the caller commits)."""
    now = now or utcnow()
    stmt = select(TicketSla).where(TicketSla.next_check_at <= now).order_by(TicketSla.next_check_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Several workers may sweep at once; each takes a disjoint batch.
        stmt = stmt.with_for_update(skip_locked=True)
    states = list(session.scalars(stmt))
    ctx = _Context(session)
    if not states:
        return ctx.result
    ids = [s.ticket_id for s in states]
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    targets: dict[int, dict[str, TicketSlaTarget]] = {}
    for row in session.scalars(select(TicketSlaTarget).where(TicketSlaTarget.ticket_id.in_(ids))):
        targets.setdefault(row.ticket_id, {})[row.key] = row
    pauses = _pauses(session, ids)
    last = _last_updates(session, tickets.values())
    with session.no_autoflush:  # one flush per batch, not one per query
        for state in states:
            ticket = tickets[state.ticket_id]
            _evaluate(
                ctx, ticket, state, targets.get(ticket.id, {}), pauses.get(ticket.id, []), last.get(ticket.id), now
            )
    ctx.publish_pending()
    session.flush()
    return ctx.result


# --------------------------------------------------------------------------- ticket lifecycle hooks


def on_status_change(session: Session, ticket: Ticket, old: str, new: str, now: datetime) -> None:
    """Pause the clocks while the ticket waits on the customer; resume when it leaves `pending`."""
    if old == new:
        return
    if old == "pending":
        for pause in session.scalars(
            select(SlaPause).where(SlaPause.ticket_id == ticket.id, SlaPause.ended_at.is_(None))
        ):
            pause.ended_at = now
    if new == "pending":
        session.add(SlaPause(ticket_id=ticket.id, started_at=now, reason="pending"))
    session.flush()


def reach_milestone(session: Session, ticket: Ticket, key: str, at: datetime | None = None) -> TicketSla | None:
    """Record that a milestone target (e.g. `task_force`) was reached, then re-evaluate."""
    state = session.get(TicketSla, ticket.id)
    if state is None:
        return None
    state.milestones = {**(state.milestones or {}), key: (at or utcnow()).isoformat()}
    return refresh_ticket_sla(session, ticket)


def mark_survey_sent(session: Session, ticket: Ticket, at: datetime | None = None) -> TicketSla | None:
    """Record that the CSAT survey went out (meets the `csat_survey` target); for the surveys package."""
    state = session.get(TicketSla, ticket.id)
    if state is None:
        return None
    state.survey_sent_at = at or utcnow()
    return refresh_ticket_sla(session, ticket)


def ticket_sla(session: Session, ticket_id: int) -> tuple[TicketSla | None, list[TicketSlaTarget]]:
    """Stored SLA state and targets of a ticket."""
    state = session.get(TicketSla, ticket_id)
    if state is None:
        return None, []
    rows = list(
        session.scalars(
            select(TicketSlaTarget).where(TicketSlaTarget.ticket_id == ticket_id).order_by(TicketSlaTarget.id)
        )
    )
    return state, rows


def at_risk(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    before: datetime,
    limit: int,
    cursor: str | None,
) -> tuple[list[TicketSlaTarget], str | None]:
    """Unmet targets due before `before` (breached ones included), soonest first."""
    from kefu.core.pagination import keyset_page

    stmt = select(TicketSlaTarget).where(
        TicketSlaTarget.met_at.is_(None), TicketSlaTarget.due_at.is_not(None), TicketSlaTarget.due_at < before
    )
    stmt = scope_to_brands(stmt, TicketSlaTarget.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(TicketSlaTarget.brand_id == brand_id)
    return keyset_page(
        session, stmt, TicketSlaTarget.due_at, TicketSlaTarget.id, limit=limit, cursor=cursor, descending=False
    )
