"""Complaint deadline watch: acknowledgement (1 business day) and reply (3–5 business days) for every complaint.

The deadlines are stored on each complaint when it is registered (kefu.complaints.service). A periodic sweep
(`complaints.watch`) notifies the ticket's assignee, team leads and the brand's escalation contacts once per missed
deadline (marking ``acknowledge_overdue_at`` / ``reply_overdue_at``), publishes ``complaint.overdue`` and notes it
on the ticket timeline. The overdue list and the per-month on-time rates read the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.complaints.models import Complaint
from kefu.complaints.punctuality import DeadlineStats, by_month, year_range
from kefu.core.access import scope_to_brands
from kefu.core.db import utcnow
from kefu.core.events import publish
from kefu.sla import service as sla
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import Ticket
from kefu.tickets.timeline import add_activity

DEADLINES = ("acknowledgement", "reply")
_TITLES = {"acknowledgement": "notif_complaint_ack_overdue", "reply": "notif_complaint_reply_overdue"}


@dataclass
class WatchResult:
    """What one watch pass did."""

    overdue: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEADLINES, 0))
    notifications: int = 0


def _missed(c: Complaint, now: datetime) -> list[str]:
    out = []
    if c.acknowledged_at is None and c.acknowledge_due_at < now:
        out.append("acknowledgement")
    if c.replied_at is None and c.reply_due_at < now:
        out.append("reply")
    return out


def _overdue_condition(now: datetime) -> object:
    return and_(
        Complaint.status != "closed",
        or_(
            and_(Complaint.acknowledged_at.is_(None), Complaint.acknowledge_due_at < now),
            and_(Complaint.replied_at.is_(None), Complaint.reply_due_at < now),
        ),
    )


def watch(session: Session, now: datetime | None = None, *, limit: int = 500) -> WatchResult:
    """Notify once for every complaint deadline missed since the last pass (idempotent; the caller commits)."""
    now = now or utcnow()
    result = WatchResult()
    rows = session.scalars(
        select(Complaint)
        .where(
            Complaint.status != "closed",
            or_(
                and_(
                    Complaint.acknowledged_at.is_(None),
                    Complaint.acknowledge_due_at < now,
                    Complaint.acknowledge_overdue_at.is_(None),
                ),
                and_(
                    Complaint.replied_at.is_(None), Complaint.reply_due_at < now, Complaint.reply_overdue_at.is_(None)
                ),
            ),
        )
        .order_by(Complaint.id)
        .limit(limit)
    )
    for c in list(rows):
        ticket = session.get(Ticket, c.ticket_id)
        assert ticket is not None  # non-null FK with cascade
        for which in _missed(c, now):
            if (c.acknowledge_overdue_at if which == "acknowledgement" else c.reply_overdue_at) is not None:
                continue
            if which == "acknowledgement":
                c.acknowledge_overdue_at = now
                due = c.acknowledge_due_at
            else:
                c.reply_overdue_at = now
                due = c.reply_due_at
            result.overdue[which] += 1
            who = sla.recipients(session, ticket, "agent") + sla.recipients(session, ticket, "team_lead")
            data = {"complaint_id": c.id, "deadline": which, "due_at": due.isoformat(), "level": c.level}
            sent = notify(
                session,
                who,
                "complaint.overdue",
                localized(_TITLES[which], number=ticket.number),
                brand_id=c.brand_id,
                body=ticket.subject,
                ticket_id=ticket.id,
                data=data,
            )
            result.notifications += len(sent)
            add_activity(session, ticket, "complaint_overdue", data=data)
            publish(session, "complaint.overdue", {**data, "ticket_id": ticket.id}, (f"brand:{c.brand_id}",))
            record(
                session,
                None,
                "complaint.overdue",
                target_type="complaint",
                target_id=c.id,
                brand_id=c.brand_id,
                details={"deadline": which},
                actor_type="system",
                actor_label="complaints.watch",
            )
    session.flush()
    return result


class OverdueItem(BaseModel):
    """A complaint with at least one missed deadline."""

    id: int
    ticket_id: int
    ticket_number: str
    level: str
    status: str
    received_at: datetime
    acknowledge_due_at: datetime
    reply_due_at: datetime
    overdue: list[str]
    overdue_minutes: int


def overdue(
    session: Session, principal: Principal, *, brand_id: int | None, now: datetime | None = None, limit: int = 200
) -> list[OverdueItem]:
    """Open complaints past a deadline, the longest overdue first."""
    now = now or utcnow()
    stmt = (
        select(Complaint, Ticket.number)
        .join(Ticket, Ticket.id == Complaint.ticket_id)
        .where(
            _overdue_condition(now)  # type: ignore[arg-type]
        )
    )
    stmt = scope_to_brands(stmt, Complaint.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Complaint.brand_id == brand_id)
    out = []
    for c, number in session.execute(stmt.order_by(Complaint.acknowledge_due_at, Complaint.id).limit(limit)):
        missed = _missed(c, now)
        first_due = min(c.acknowledge_due_at if "acknowledgement" in missed else c.reply_due_at, c.reply_due_at)
        out.append(
            OverdueItem(
                id=c.id,
                ticket_id=c.ticket_id,
                ticket_number=number,
                level=c.level,
                status=c.status,
                received_at=c.received_at,
                acknowledge_due_at=c.acknowledge_due_at,
                reply_due_at=c.reply_due_at,
                overdue=missed,
                overdue_minutes=int((now - first_due).total_seconds() // 60),
            )
        )
    return sorted(out, key=lambda i: -i.overdue_minutes)


class PeriodStats(BaseModel):
    """Complaints received in a month (or the year) and how punctually they were acknowledged and answered."""

    period: str
    received: int = 0
    acknowledgement: DeadlineStats = Field(default_factory=DeadlineStats)
    reply: DeadlineStats = Field(default_factory=DeadlineStats)
    acknowledgement_on_time_rate: float | None = None
    reply_on_time_rate: float | None = None


def stats(
    session: Session, brand_id: int, actor: Principal | None, *, year: int, now: datetime | None = None
) -> tuple[list[PeriodStats], PeriodStats]:
    """Per month of receipt (brand's timezone): acknowledgement and reply on time / late / overdue; and the year."""
    brand = get_brand(session, brand_id, actor)
    now = now or utcnow()
    tz = ZoneInfo(brand.timezone)
    start, end = year_range(year, tz)
    rows = session.execute(
        select(
            Complaint.received_at,
            Complaint.acknowledged_at,
            Complaint.acknowledge_due_at,
            Complaint.replied_at,
            Complaint.reply_due_at,
        ).where(Complaint.brand_id == brand_id, Complaint.received_at >= start, Complaint.received_at < end)
    )

    def add(bucket: PeriodStats, row: Sequence[Any]) -> None:
        _, acked, ack_due, replied, reply_due = row
        bucket.received += 1
        bucket.acknowledgement.count(acked, ack_due, now)
        bucket.reply.count(replied, reply_due, now)

    months, total = by_month(rows, year=year, tz=tz, new=lambda period: PeriodStats(period=period), add=add)
    for bucket in (*months, total):
        bucket.acknowledgement_on_time_rate = bucket.acknowledgement.rate()
        bucket.reply_on_time_rate = bucket.reply.rate()
    return months, total
