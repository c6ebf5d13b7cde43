"""Due-soon warnings for complaint and regulator deadlines, once per deadline and lead time.

Lead times are minutes before the deadline, per brand in ``settings["deadline_warnings"]`` (defaults below: a
complaint's acknowledgement 2 hours ahead, its reply a day ahead; a regulator letter's 15-day reply 3 days and 1 day
ahead, and at the deadline itself since regulator letters have no other overdue watch). The assignee and the
supervisors (team leads, the brand's team-lead escalation contacts) are notified; a ``deadline_warnings`` row per
(deadline, lead time) makes the sweep idempotent. When the sweep was down and several lead times passed at once, one
notice is sent (the nearest lead time) and all are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.complaints.models import Complaint, DeadlineWarning, RegulatorCase
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.core.events import publish
from kefu.sla import service as sla
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import Ticket
from kefu.tickets.timeline import add_activity

Deadline = Literal["acknowledgement", "reply", "regulator"]
DEFAULT_LEADS: dict[str, list[int]] = {"acknowledgement": [120], "reply": [1440], "regulator": [4320, 1440, 0]}
MAX_LEAD = 30 * 24 * 60
_TITLES = {
    "acknowledgement": "notif_deadline_ack_due",
    "reply": "notif_deadline_reply_due",
    "regulator": "notif_deadline_regulator_due",
}


def lead_times(settings: Mapping[str, Any] | None) -> dict[str, list[int]]:
    """A brand's lead times per deadline (minutes, largest first); defaults where not set."""
    conf = (settings or {}).get("deadline_warnings") or {}
    out: dict[str, list[int]] = {}
    for key, default in DEFAULT_LEADS.items():
        leads = conf.get(key, default)
        out[key] = sorted({int(v) for v in leads}, reverse=True)
    return out


def check_lead_times(value: object) -> dict[str, list[int]]:
    """Validate a ``deadline_warnings`` setting (admin input): known deadlines, 0..30 days in minutes."""
    if not isinstance(value, dict):
        raise InvalidInput.said("err_complaints_warnings_shape")
    out: dict[str, list[int]] = {}
    for key, leads in value.items():
        if key not in DEFAULT_LEADS:
            raise InvalidInput.said("err_complaints_unknown_deadline", key=key, choices=sorted(DEFAULT_LEADS))
        if not isinstance(leads, list) or not all(isinstance(v, int) and 0 <= v <= MAX_LEAD for v in leads):
            raise InvalidInput.said("err_complaints_warnings_range", key=key, max_lead=MAX_LEAD)
        if key != "regulator" and 0 in leads:
            raise InvalidInput.said("err_complaints_warnings_zero")
        out[key] = sorted(set(leads), reverse=True)
    return out


@dataclass
class Candidate:
    """One unmet deadline of a complaint or regulator letter."""

    subject: str
    subject_id: int
    deadline: str
    due_at: datetime
    brand_id: int
    ticket_id: int


def _candidates(session: Session, until: datetime, brand_id: int | None = None) -> list[Candidate]:
    out: list[Candidate] = []
    cstmt = select(Complaint).where(
        Complaint.status != "closed",
        (Complaint.acknowledged_at.is_(None) & (Complaint.acknowledge_due_at <= until))
        | (Complaint.replied_at.is_(None) & (Complaint.reply_due_at <= until)),
    )
    rstmt = select(RegulatorCase).where(RegulatorCase.status == "open", RegulatorCase.due_at <= until)
    if brand_id is not None:
        cstmt = cstmt.where(Complaint.brand_id == brand_id)
        rstmt = rstmt.where(RegulatorCase.brand_id == brand_id)
    for c in session.scalars(cstmt.order_by(Complaint.id)):
        if c.acknowledged_at is None and c.acknowledge_due_at <= until:
            out.append(Candidate("complaint", c.id, "acknowledgement", c.acknowledge_due_at, c.brand_id, c.ticket_id))
        if c.replied_at is None and c.reply_due_at <= until:
            out.append(Candidate("complaint", c.id, "reply", c.reply_due_at, c.brand_id, c.ticket_id))
    for r in session.scalars(rstmt.order_by(RegulatorCase.id)):
        out.append(Candidate("regulator", r.id, "regulator", r.due_at, r.brand_id, r.ticket_id))
    return out


@dataclass
class WarnResult:
    """What one pass did."""

    warnings: int = 0
    notifications: int = 0


def warn(session: Session, now: datetime | None = None) -> WarnResult:
    """Record and notify every lead time reached since the last pass (idempotent; the caller commits)."""
    now = now or utcnow()
    result = WarnResult()
    settings = {bid: s for bid, s in session.execute(select(Brand.id, Brand.settings))}
    leads = {bid: lead_times(s) for bid, s in settings.items()}
    widest = max((max(v, default=0) for ls in leads.values() for v in ls.values()), default=0)
    cands = _candidates(session, now + timedelta(minutes=widest))
    if not cands:
        return result
    done = set(
        session.execute(
            select(
                DeadlineWarning.subject,
                DeadlineWarning.subject_id,
                DeadlineWarning.deadline,
                DeadlineWarning.lead_minutes,
            ).where(DeadlineWarning.subject_id.in_({c.subject_id for c in cands}))
        ).all()
    )
    for c in cands:
        reached = [
            lead
            for lead in leads.get(c.brand_id, DEFAULT_LEADS)[c.deadline]
            if now >= c.due_at - timedelta(minutes=lead)
            and (lead == 0 or now < c.due_at)
            and (c.subject, c.subject_id, c.deadline, lead) not in done
        ]
        if not reached:
            continue
        ticket = session.get(Ticket, c.ticket_id)
        assert ticket is not None  # non-null FK with cascade
        nearest = min(reached)
        who = sla.recipients(session, ticket, "agent") + sla.recipients(session, ticket, "team_lead")
        overdue = nearest == 0
        title = localized("notif_deadline_regulator_overdue" if overdue else _TITLES[c.deadline], number=ticket.number)
        data = {
            "subject": c.subject,
            "subject_id": c.subject_id,
            "deadline": c.deadline,
            "lead_minutes": nearest,
            "due_at": c.due_at.isoformat(),
        }
        kind = "deadline.overdue" if overdue else "deadline.due_soon"
        sent = notify(
            session, who, kind, title, brand_id=c.brand_id, body=ticket.subject, ticket_id=ticket.id, data=data
        )
        for lead in reached:
            session.add(
                DeadlineWarning(
                    brand_id=c.brand_id,
                    ticket_id=c.ticket_id,
                    subject=c.subject,
                    subject_id=c.subject_id,
                    deadline=c.deadline,
                    lead_minutes=lead,
                    due_at=c.due_at,
                    warned_at=now,
                    recipients=len(sent) if lead == nearest else 0,
                )
            )
        result.warnings += 1
        result.notifications += len(sent)
        add_activity(session, ticket, "deadline_warning", data=data)
        publish(session, kind, {**data, "ticket_id": ticket.id}, (f"brand:{c.brand_id}", f"ticket:{ticket.id}"))
    session.flush()
    return result


class DueItem(BaseModel):
    """An unmet complaint or regulator deadline inside the warning window (or past it)."""

    subject: str
    subject_id: int
    deadline: str
    ticket_id: int
    ticket_number: str
    brand_id: int
    assignee_id: int | None
    due_at: datetime
    minutes_left: int
    warned: bool


def due_soon(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None = None,
    within_hours: int = 72,
    now: datetime | None = None,
) -> list[DueItem]:
    """Unmet deadlines due within `within_hours` (overdue ones included), soonest first, for the console."""
    now = now or utcnow()
    cands = _candidates(session, now + timedelta(hours=within_hours), brand_id)
    if principal.brand_ids is not None:
        cands = [c for c in cands if c.brand_id in principal.brand_ids]
    if not cands:
        return []
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_({c.ticket_id for c in cands})))}
    warned = set(
        session.execute(
            select(DeadlineWarning.subject, DeadlineWarning.subject_id, DeadlineWarning.deadline).where(
                DeadlineWarning.subject_id.in_({c.subject_id for c in cands})
            )
        ).all()
    )
    items = [
        DueItem(
            subject=c.subject,
            subject_id=c.subject_id,
            deadline=c.deadline,
            ticket_id=c.ticket_id,
            ticket_number=tickets[c.ticket_id].number,
            brand_id=c.brand_id,
            assignee_id=tickets[c.ticket_id].assignee_id,
            due_at=c.due_at,
            minutes_left=int((c.due_at - now).total_seconds() // 60),
            warned=(c.subject, c.subject_id, c.deadline) in warned,
        )
        for c in cands
    ]
    return sorted(items, key=lambda i: i.due_at)
