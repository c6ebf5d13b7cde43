"""Follow-up visits (回訪): plan contacts after resolution per rule, the agents' queue, outcomes and figures.

Seed 003: 「售後回訪機制（服務結束後自動觸發）」 and 「後續跟進 → 7天內3次主動溝通」. A rule (brand, optional category
and priority) says how many contacts (`attempts`) to spread over `within_days`, the first `first_after_hours` after
resolution. The planner (`followups.plan`, every 5 minutes) creates the attempts for cases resolved since the last
pass — whatever path resolved them — once per case and rule; the attempt is assigned to whoever resolved the case
(its assignee). Security incidents (`account_anomaly`) without a matching rule get 3 contacts within 7 days, from
their repair step or, when resolved without one, from the resolution — once either way. Agents record an outcome:
reached, not reached, or re-opened (the case goes back to open and the remaining attempts are cancelled). Due
attempts notify their assignee once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from kefu.account_security.models import DEFAULT_FOLLOW_UP, SECURITY_CATEGORIES
from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.events import publish
from kefu.followups.commands import CreateFollowUpRule, ensure
from kefu.followups.models import OUTCOMES, FollowUp, FollowUpRule
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import Ticket
from kefu.tickets.service import update_ticket
from kefu.tickets.timeline import add_activity

LOOKBACK = timedelta(days=2)  # the planner catches cases resolved while it was down for up to this long


# ---------------------------------------------------------------- rules


def create_rule(session: Session, actor: Principal, command: CreateFollowUpRule | Mapping[str, Any]) -> FollowUpRule:
    """Add a follow-up rule to a brand (unique name); a plain mapping is validated into the command first."""
    cmd = ensure(CreateFollowUpRule, command)
    brand_id = cmd.brand_id
    get_brand(session, brand_id, actor)
    if cmd.first_after_hours > cmd.within_days * 24:
        raise InvalidInput.said("err_followups_first_contact_window")
    if session.scalar(select(FollowUpRule.id).where(FollowUpRule.brand_id == brand_id, FollowUpRule.name == cmd.name)):
        raise Conflict.said("err_followups_rule_exists", name=cmd.name)
    rule = FollowUpRule(**cmd.model_dump())
    session.add(rule)
    session.flush()
    record(session, actor, "follow_up_rule.create", target_type="follow_up_rule", target_id=rule.id, brand_id=brand_id)
    return rule


def list_rules(session: Session, actor: Principal, brand_id: int) -> list[FollowUpRule]:
    """A brand's rules."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(select(FollowUpRule).where(FollowUpRule.brand_id == brand_id).order_by(FollowUpRule.id))
    )


def get_rule(session: Session, rule_id: int, actor: Principal) -> FollowUpRule:
    """One rule the actor may see."""
    rule = get_in_brand(session, FollowUpRule, rule_id, actor, "Follow-up rule")
    return rule


def delete_rule(session: Session, rule: FollowUpRule, actor: Principal) -> None:
    """Remove a rule (planned attempts stay; they keep their history)."""
    record(
        session, actor, "follow_up_rule.delete", target_type="follow_up_rule", target_id=rule.id, brand_id=rule.brand_id
    )
    session.delete(rule)
    session.flush()


def _rule_for(rules: Sequence[FollowUpRule], ticket: Ticket) -> FollowUpRule | None:
    """The most specific active rule matching the case (category and priority count; ties by id)."""
    best: tuple[int, FollowUpRule] | None = None
    for r in rules:
        if (
            not r.is_active
            or (r.category and r.category != ticket.category)
            or (r.priority and r.priority != ticket.priority)
        ):
            continue
        score = (r.category is not None) * 2 + (r.priority is not None)
        if best is None or score > best[0]:
            best = (score, r)
    return best[1] if best else None


def due_times(rule: FollowUpRule, resolved_at: datetime) -> list[datetime]:
    """When each attempt is due: the first after `first_after_hours`, the rest evenly until the window's end."""
    first = resolved_at + timedelta(hours=rule.first_after_hours)
    last = resolved_at + timedelta(days=rule.within_days)
    if rule.attempts == 1:
        return [first]
    step = (last - first) / (rule.attempts - 1)
    return [first + step * i for i in range(rule.attempts)]


# ---------------------------------------------------------------- planner


@dataclass
class PlanResult:
    """What one planner pass did."""

    planned_cases: int = 0
    attempts: int = 0
    notified: int = 0


def fallback_rule(ticket: Ticket) -> FollowUpRule | None:
    """The built-in plan of a case without a matching brand rule: security incidents get 3 contacts in 7 days."""
    if ticket.category in SECURITY_CATEGORIES:
        return FollowUpRule(**DEFAULT_FOLLOW_UP)  # unsaved: its attempts carry no rule id
    return None


def _add_attempts(
    session: Session, ticket: Ticket, rule: FollowUpRule, anchor: datetime, now: datetime | None = None
) -> list[FollowUp]:
    """Add a case's attempts under `rule` from `anchor`, with the timeline entry (the caller flushes)."""
    times = due_times(rule, anchor)
    now = now or utcnow()
    rows = [
        FollowUp(
            brand_id=ticket.brand_id,
            ticket_id=ticket.id,
            rule_id=rule.id,
            attempt=i,
            of_attempts=len(times),
            assignee_id=ticket.assignee_id,
            due_at=due,
            created_at=now,
        )
        for i, due in enumerate(times, start=1)
    ]
    session.add_all(rows)
    add_activity(session, ticket, "follow_up_planned", data={"rule": rule.name, "attempts": len(times)})
    return rows


def plan(session: Session, now: datetime | None = None, *, limit: int = 1000) -> PlanResult:
    """Plan follow-ups for cases resolved recently that have none yet, then notify attempts that became due."""
    now = now or utcnow()
    result = PlanResult()
    rules_by_brand: dict[int, list[FollowUpRule]] = {}
    for r in session.scalars(select(FollowUpRule).where(FollowUpRule.is_active.is_(True))):
        rules_by_brand.setdefault(r.brand_id, []).append(r)
    # Brands with rules, and security incidents everywhere: they follow up even without a rule or a recorded repair.
    scope: ColumnElement[bool] = Ticket.category.in_(SECURITY_CATEGORIES)
    if rules_by_brand:
        scope = or_(Ticket.brand_id.in_(rules_by_brand), scope)
    tickets = session.scalars(
        select(Ticket)
        .where(
            scope,
            Ticket.status.in_(("resolved", "closed")),
            Ticket.resolved_at >= now - LOOKBACK,
            Ticket.merged_into_id.is_(None),
            ~exists().where(FollowUp.ticket_id == Ticket.id),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    for t in list(tickets):
        rule = _rule_for(rules_by_brand.get(t.brand_id, []), t) or fallback_rule(t)
        if rule is None or t.resolved_at is None:
            continue
        rows = _add_attempts(session, t, rule, t.resolved_at, now)
        result.planned_cases += 1
        result.attempts += len(rows)
    session.flush()
    due_rows = session.scalars(
        select(FollowUp)
        .where(FollowUp.status == "pending", FollowUp.due_at <= now, FollowUp.notified_at.is_(None))
        .order_by(FollowUp.id)
        .limit(limit)
    )
    for f in list(due_rows):
        f.notified_at = now
        if f.assignee_id is None:
            continue
        case = session.get(Ticket, f.ticket_id)
        assert case is not None  # non-null FK with cascade
        notify(
            session,
            [f.assignee_id],
            "follow_up.due",
            localized("notif_follow_up_due", number=case.number, attempt=f.attempt, of=f.of_attempts),
            brand_id=f.brand_id,
            body=case.subject,
            ticket_id=case.id,
            data={"follow_up_id": f.id, "attempt": f.attempt, "due_at": f.due_at.isoformat()},
        )
        result.notified += 1
    session.flush()
    return result


def plan_case(
    session: Session, ticket: Ticket, anchor: datetime, *, fallback: FollowUpRule | None = None
) -> list[FollowUp]:
    """Plan a case's follow-ups from `anchor` now (e.g. a security incident's repair), once per case.

    The brand's most specific active rule applies, else `fallback` (an unsaved rule: the attempts carry no rule id),
    else the built-in `fallback_rule`.
    """
    if session.scalar(select(FollowUp.id).where(FollowUp.ticket_id == ticket.id).limit(1)) is not None:
        return []
    rules = list(
        session.scalars(
            select(FollowUpRule).where(FollowUpRule.brand_id == ticket.brand_id, FollowUpRule.is_active.is_(True))
        )
    )
    rule = _rule_for(rules, ticket) or fallback or fallback_rule(ticket)
    if rule is None:
        return []
    rows = _add_attempts(session, ticket, rule, anchor)
    session.flush()
    return rows


# ---------------------------------------------------------------- queue and outcomes


def queue(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None = None,
    assignee_id: int | None = None,
    status: str = "pending",
    due_only: bool = False,
    now: datetime | None = None,
    limit: int = 100,
    ticket_id: int | None = None,
    follow_up_id: int | None = None,
) -> list[tuple[FollowUp, Ticket]]:
    """Follow-ups with their cases, the earliest due first (pending) or the latest done first."""
    now = now or utcnow()
    if status not in ("pending", "done", "cancelled"):
        raise InvalidInput.said("err_followups_status_choice")
    stmt = select(FollowUp, Ticket).join(Ticket, Ticket.id == FollowUp.ticket_id).where(FollowUp.status == status)
    stmt = scope_to_brands(stmt, FollowUp.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(FollowUp.brand_id == brand_id)
    if assignee_id is not None:
        stmt = stmt.where(FollowUp.assignee_id == assignee_id)
    if due_only:
        stmt = stmt.where(FollowUp.due_at <= now)
    if ticket_id is not None:
        stmt = stmt.where(FollowUp.ticket_id == ticket_id)
    if follow_up_id is not None:
        stmt = stmt.where(FollowUp.id == follow_up_id)
    order = (FollowUp.due_at, FollowUp.id) if status == "pending" else (FollowUp.done_at.desc(), FollowUp.id.desc())
    return [(f, t) for f, t in session.execute(stmt.order_by(*order).limit(limit))]


def get_follow_up(session: Session, follow_up_id: int, principal: Principal) -> FollowUp:
    """One follow-up the principal may see."""
    f = get_in_brand(session, FollowUp, follow_up_id, principal, "Follow-up")
    return f


def record_outcome(
    session: Session, f: FollowUp, actor: Principal, outcome: str, note: str = "", at: datetime | None = None
) -> FollowUp:
    """Record how the contact went; `reopened` reopens the case and cancels the remaining attempts."""
    if outcome not in OUTCOMES:
        raise InvalidInput.said("err_followups_outcome_choice", choices=", ".join(OUTCOMES))
    if f.status != "pending":
        raise Conflict.said("err_followups_has_outcome")
    now = at or utcnow()
    f.status, f.result, f.note, f.done_at, f.done_by = "done", outcome, note, now, actor.agent_id
    ticket = session.get(Ticket, f.ticket_id)
    assert ticket is not None
    rule = session.get(FollowUpRule, f.rule_id) if f.rule_id else None
    stop = outcome == "reopened" or (outcome == "reached" and rule is not None and rule.stop_when_reached)
    if stop:
        for other in session.scalars(
            select(FollowUp).where(FollowUp.ticket_id == f.ticket_id, FollowUp.status == "pending", FollowUp.id != f.id)
        ):
            other.status = "cancelled"
    if outcome == "reopened" and ticket.status in ("resolved", "closed"):
        update_ticket(session, ticket, actor, {"status": "open"})
    add_activity(
        session,
        ticket,
        "follow_up",
        body=note,
        agent_id=actor.agent_id,
        data={"attempt": f.attempt, "of": f.of_attempts, "outcome": outcome},
        at=now,
    )
    publish(
        session, "follow_up.done", {"id": f.id, "ticket_id": ticket.id, "outcome": outcome}, (f"brand:{f.brand_id}",)
    )
    session.flush()
    return f


# ---------------------------------------------------------------- figures


class FollowUpStats(BaseModel):
    """Follow-ups due in a period: how many were made on time, reached, not reached, re-opened, still open."""

    brand_id: int
    start: datetime
    end: datetime
    planned: int = 0
    done: int = 0
    on_time: int = 0
    reached: int = 0
    not_reached: int = 0
    reopened: int = 0
    cancelled: int = 0
    overdue_open: int = 0
    cases: int = 0
    cases_reached: int = 0
    reach_rate: float | None = None
    on_time_rate: float | None = None


def stats(
    session: Session,
    brand_id: int,
    actor: Principal | None,
    *,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> FollowUpStats:
    """Figures of follow-ups due in [start, end) (reports and the white paper)."""
    get_brand(session, brand_id, actor)
    if end <= start:
        raise InvalidInput.said("err_followups_end_before_start")
    now = now or utcnow()
    out = FollowUpStats(brand_id=brand_id, start=start, end=end)
    cases: dict[int, bool] = {}
    rows = session.execute(
        select(FollowUp.ticket_id, FollowUp.status, FollowUp.result, FollowUp.due_at, FollowUp.done_at).where(
            FollowUp.brand_id == brand_id, FollowUp.due_at >= start, FollowUp.due_at < end
        )
    )
    for tid, status, outcome, due, done in rows:
        out.planned += 1
        cases.setdefault(tid, False)
        if status == "cancelled":
            out.cancelled += 1
        elif status == "done":
            out.done += 1
            if done is not None and done <= due + timedelta(days=1):  # on time: by the end of the day it was due
                out.on_time += 1
            key = str(outcome)
            setattr(out, key, getattr(out, key) + 1)
            if outcome in ("reached", "reopened"):
                cases[tid] = True
        elif due < now:
            out.overdue_open += 1
    out.cases = len(cases)
    out.cases_reached = sum(cases.values())
    out.reach_rate = round(out.cases_reached / out.cases, 4) if out.cases else None
    out.on_time_rate = round(out.on_time / out.done, 4) if out.done else None
    return out
