"""Progress-update clock (seed 003 「進度同步 每30分鐘更新狀態」) for every open urgent or complaint case.

A case in scope (per brand ``settings["progress_updates"]``: interval, priorities, categories; default every 30
minutes for urgent and high priority and for complaints) must get a public update — an agent reply on its
conversation or a public timeline entry — at least every interval while it is new, open or on hold (pending waits on
the customer and stops the clock). The sweep records a ``progress_lapses`` row the first time each interval is
missed (once per ticket and due time), notifies the assignee and the team's supervisors, and ends the lapse when the
next update comes, the case resolves or waits on the customer. Reports count lapses and minutes late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.core.access import scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.core.events import publish
from kefu.sla.models import Notification, ProgressLapse
from kefu.sla.notifications import build, localized
from kefu.tickets.models import Ticket

CLOCK_STATUSES = ("new", "open", "on_hold")
DEFAULTS: dict[str, Any] = {"every_minutes": 30, "priorities": ["urgent", "high"], "categories": ["complaint"]}


def settings_of(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """A brand's progress-update settings with the defaults filled in."""
    return {**DEFAULTS, **((settings or {}).get("progress_updates") or {})}


def check_settings(value: object) -> dict[str, Any]:
    """Validate a ``progress_updates`` setting (admin input)."""
    if not isinstance(value, dict) or set(value) - set(DEFAULTS) - {"enabled"}:
        raise InvalidInput.said("err_sla_updates_keys", keys=sorted([*DEFAULTS, "enabled"]))
    every = value.get("every_minutes", DEFAULTS["every_minutes"])
    if not isinstance(every, int) or not 5 <= every <= 24 * 60:
        raise InvalidInput.said("err_sla_updates_every")
    for key in ("priorities", "categories"):
        items = value.get(key, DEFAULTS[key])
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise InvalidInput.said("err_sla_updates_list", field=key)
    if key_ok := value.get("priorities"):
        bad = set(key_ok) - {"low", "normal", "high", "urgent"}
        if bad:
            raise InvalidInput.said("err_sla_unknown_priorities", priorities=sorted(bad))
    return dict(value)


def on_clock(conf: dict[str, Any], status: str, priority: str, category: str | None) -> bool:
    """Whether a case with this status, priority and category is on its brand's progress clock (``conf``)."""
    in_scope = priority in conf["priorities"] or category in conf["categories"]
    return conf.get("enabled", True) is not False and status in CLOCK_STATUSES and in_scope


def last_updates(session: Session, tickets: list[Ticket]) -> dict[int, datetime]:
    """When each case was last updated publicly (falls back to its first response, then its opening)."""
    from kefu.sla.runtime import _last_updates  # one definition of "a public update" for both clocks

    found = _last_updates(session, tickets)
    out = {}
    for t in tickets:
        cands = [d for d in (found.get(t.id), t.first_response_at, t.created_at) if d is not None]
        out[t.id] = max(cands)
    return out


@dataclass
class ClockResult:
    """What one sweep did."""

    checked: int = 0
    lapsed: int = 0
    ended: int = 0
    notifications: int = 0


def sweep(session: Session, now: datetime | None = None, *, limit: int = 2000) -> ClockResult:
    """Record and notify newly missed update intervals; end lapses that got their update (the caller commits)."""
    from kefu.sla.service import recipients

    now = now or utcnow()
    result = ClockResult()
    confs = {bid: settings_of(s) for bid, s in session.execute(select(Brand.id, Brand.settings))}
    open_lapses = {
        lp.ticket_id: lp for lp in session.scalars(select(ProgressLapse).where(ProgressLapse.ended_at.is_(None)))
    }
    live = {bid: c for bid, c in confs.items() if c.get("enabled", True) is not False}
    priorities = sorted({p for c in live.values() for p in c["priorities"]})
    categories = sorted({k for c in live.values() for k in c["categories"]})
    # One query for every brand (the union of their scopes), narrowed per brand below.
    candidates = session.scalars(
        select(Ticket)
        .where(
            Ticket.brand_id.in_(live),
            Ticket.status.in_(CLOCK_STATUSES),
            Ticket.merged_into_id.is_(None),
            or_(Ticket.priority.in_(priorities), Ticket.category.in_(categories)),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    tickets = [
        t
        for t in candidates
        if t.priority in live[t.brand_id]["priorities"] or t.category in live[t.brand_id]["categories"]
    ]
    by_id = {t.id: t for t in tickets}
    # Lapses of cases that left the clock end here (resolved, waiting on the customer, moved out of scope).
    gone = [tid for tid in open_lapses if tid not in by_id]
    if gone:
        rows = session.execute(
            select(Ticket.id, Ticket.brand_id, Ticket.status, Ticket.priority, Ticket.category).where(
                Ticket.id.in_(gone)
            )
        ).all()
        for tid, bid, st, prio, cat in rows:
            if on_clock(confs.get(bid, DEFAULTS), st, prio, cat):
                continue  # still on the clock, only beyond this pass's batch
            lapse = open_lapses.pop(tid)
            lapse.ended_at = now
            lapse.end_reason = (
                "resolved" if st in ("resolved", "closed") else "pending" if st == "pending" else "out_of_scope"
            )
            result.ended += 1
    last = last_updates(session, tickets)
    pending: list[Notification] = []
    for t in tickets:
        result.checked += 1
        every = int(confs[t.brand_id]["every_minutes"])
        updated = last[t.id]
        lp: ProgressLapse | None = open_lapses.get(t.id)
        if lp is not None and updated > lp.last_update_at:
            lp.ended_at, lp.end_reason = updated, "updated"
            result.ended += 1
            lp = None
        due = updated + timedelta(minutes=every)
        if now < due or lp is not None:
            continue
        lapse = ProgressLapse(
            ticket_id=t.id,
            brand_id=t.brand_id,
            assignee_id=t.assignee_id,
            interval_minutes=every,
            last_update_at=updated,
            due_at=due,
            noticed_at=now,
        )
        session.add(lapse)
        result.lapsed += 1
        who = recipients(session, t, "agent") + recipients(session, t, "team_lead")
        data = {"ticket_id": t.id, "number": t.number, "due_at": due.isoformat(), "every_minutes": every}
        sent = build(
            session,
            who,
            "progress.overdue",
            localized("notif_progress_overdue", number=t.number, every=every),
            brand_id=t.brand_id,
            body=t.subject,
            ticket_id=t.id,
            data=data,
        )
        pending.extend(sent)
        result.notifications += len(sent)
        publish(session, "progress.overdue", data, (f"brand:{t.brand_id}", f"ticket:{t.id}"))
    session.flush()
    from kefu.sla.notifications import announce

    announce(session, pending)
    return result


@dataclass(frozen=True)
class CaseClock:
    """A case's progress-update clock as the case page shows it."""

    every_minutes: int
    last_update_at: datetime
    due_at: datetime


def case_clock(session: Session, ticket: Ticket) -> CaseClock | None:
    """When the case's next public update is due, or None when the case is off the clock (scope, status, brand)."""
    conf = settings_of(session.scalar(select(Brand.settings).where(Brand.id == ticket.brand_id)))
    if ticket.merged_into_id is not None or not on_clock(conf, ticket.status, ticket.priority, ticket.category):
        return None
    every = int(conf["every_minutes"])
    last = last_updates(session, [ticket])[ticket.id]
    return CaseClock(every_minutes=every, last_update_at=last, due_at=last + timedelta(minutes=every))


class LapseItem(BaseModel):
    """A case whose progress update is overdue now."""

    ticket_id: int
    ticket_number: str
    subject: str
    brand_id: int
    assignee_id: int | None
    due_at: datetime
    overdue_minutes: int


def overdue(
    session: Session, principal: Principal, *, brand_id: int | None = None, now: datetime | None = None
) -> list[LapseItem]:
    """Cases past their update interval right now, the longest overdue first."""
    now = now or utcnow()
    stmt = (
        select(ProgressLapse, Ticket)
        .join(Ticket, Ticket.id == ProgressLapse.ticket_id)
        .where(ProgressLapse.ended_at.is_(None), Ticket.status.in_(CLOCK_STATUSES))
    )
    stmt = scope_to_brands(stmt, ProgressLapse.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(ProgressLapse.brand_id == brand_id)
    return [
        LapseItem(
            ticket_id=t.id,
            ticket_number=t.number,
            subject=t.subject,
            brand_id=t.brand_id,
            assignee_id=t.assignee_id,
            due_at=lp.due_at,
            overdue_minutes=int((now - lp.due_at).total_seconds() // 60),
        )
        for lp, t in session.execute(stmt.order_by(ProgressLapse.due_at).limit(500))
    ]


class LapseStats(BaseModel):
    """Missed progress updates of a brand over a period (by due time)."""

    brand_id: int
    start: datetime
    end: datetime
    lapses: int
    cases: int
    still_open: int
    avg_minutes_late: float | None
    max_minutes_late: int | None
    by_assignee: dict[str, int]


def stats(
    session: Session,
    brand_id: int,
    actor: Principal | None,
    *,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> LapseStats:
    """How many update intervals were missed, on how many cases, and how late the update came."""
    get_brand(session, brand_id, actor)
    if end <= start:
        raise InvalidInput.said("err_sla_end_before_start")
    now = now or utcnow()
    rows = list(
        session.execute(
            select(
                ProgressLapse.ticket_id, ProgressLapse.assignee_id, ProgressLapse.due_at, ProgressLapse.ended_at
            ).where(ProgressLapse.brand_id == brand_id, ProgressLapse.due_at >= start, ProgressLapse.due_at < end)
        )
    )
    late = [int(((ended or now) - due).total_seconds() // 60) for _, _, due, ended in rows]
    per: dict[str, int] = {}
    for _, who, _, _ in rows:
        per[str(who) if who else "unassigned"] = per.get(str(who) if who else "unassigned", 0) + 1
    return LapseStats(
        brand_id=brand_id,
        start=start,
        end=end,
        lapses=len(rows),
        cases=len({r[0] for r in rows}),
        still_open=sum(1 for r in rows if r[3] is None),
        avg_minutes_late=round(sum(late) / len(late), 1) if late else None,
        max_minutes_late=max(late) if late else None,
        by_assignee=per,
    )
