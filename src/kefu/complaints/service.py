"""Complaints and regulator cases: SOP intake, levels, deadlines, lifecycle and on-time statistics.

Levels (SOP): ``normal`` — respond within 2 business hours; ``dispute`` — close within 8 business hours;
``major`` — task force within 24 h.  Those clocks run on the backing ticket through the SLA policies (the level is
the ticket's ``complaint_level`` field).  Independently every complaint is acknowledged within 1 business day and
answered within ``complaint_reply_days`` business days (brand setting, 3–5, default 5) of receipt.

Regulator / consumer-protection letters (政府機關來函) must be answered in full within ``regulator_deadline_days``
calendar days (default 15) of receipt; statistics report, per month of receipt, the share answered on time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.complaints.commands import UpdateComplaint, UpdateRegulatorCase, changes_of, ensure
from kefu.complaints.models import COMPLAINT_LEVELS, Complaint, RegulatorCase
from kefu.complaints.punctuality import DeadlineStats, by_month, year_range
from kefu.core.access import get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.sla import service as sla
from kefu.tickets import service as tickets
from kefu.tickets.models import Ticket
from kefu.tickets.timeline import add_activity

DEFAULT_REPLY_DAYS = 5
DEFAULT_REGULATOR_DAYS = 15


# What a brand may set: the seed promises a full reply in 3 to 5 business days (000) and answers to an agency within
# 15 calendar days (000); a brand may be stricter, never looser.
DAY_LIMITS = {"complaint_reply_days": (3, 5), "regulator_deadline_days": (1, 15)}


def check_days(key: str, value: object) -> int:
    """Validate a brand's ``complaint_reply_days`` / ``regulator_deadline_days`` (admin input)."""
    low, high = DAY_LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput.said("err_brands_deadline_days", key=key, low=low, high=high)
    return value


def _now(at: datetime | None) -> datetime:
    now = utcnow()
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidInput.said("err_complaints_needs_timezone")
    if at > now + timedelta(minutes=5):
        raise InvalidInput.said("err_complaints_in_future")
    return at


def _business(session: Session, brand_id: int, team_id: int | None) -> Any:
    return sla.calendars_for(session, brand_id, team_id)["business"]


def _topics(brand_id: int, ticket_id: int) -> tuple[str, ...]:
    return (f"brand:{brand_id}", f"ticket:{ticket_id}")


# --------------------------------------------------------------------------- complaints


def create_complaint(
    session: Session,
    *,
    brand_id: int,
    actor: Principal | None,
    complainant_name: str,
    description: str,
    channel: str,
    level: str = "normal",
    complainant_contact: str = "",
    product: str = "",
    order_number: str = "",
    requested_remedy: str = "",
    evidence: Sequence[dict[str, Any]] = (),
    customer_id: int | None = None,
    subject: str | None = None,
    received_at: datetime | None = None,
) -> Complaint:
    """Register a complaint from the SOP form and open its ticket (category complaint, level as a field)."""
    brand = get_brand(session, brand_id, actor)
    if level not in COMPLAINT_LEVELS:
        raise InvalidInput.said("err_complaints_level_choice", choices=", ".join(COMPLAINT_LEVELS))
    received = _now(received_at)
    ticket = tickets.create_ticket(
        session,
        brand_id=brand_id,
        subject=subject or f"投訴 Complaint: {description[:80]}",
        description=description,
        actor=actor,
        customer_id=customer_id,
        category="complaint",
        channel=channel,
        custom_fields={"complaint_level": level},
        tags=["complaint", f"complaint:{level}"],
        opened_at=received,
    )
    cal = _business(session, brand_id, ticket.team_id)
    reply_days = int(brand.settings.get("complaint_reply_days", DEFAULT_REPLY_DAYS))
    complaint = Complaint(
        brand_id=brand_id,
        ticket_id=ticket.id,
        level=level,
        complainant_name=complainant_name,
        complainant_contact=complainant_contact,
        channel=channel,
        product=product,
        order_number=order_number,
        description=description,
        requested_remedy=requested_remedy,
        evidence=list(evidence),
        received_at=received,
        acknowledge_due_at=cal.add_business_days(received, 1),
        reply_due_at=cal.add_business_days(received, reply_days),
        created_by=actor.agent_id if actor else None,
    )
    session.add(complaint)
    session.flush()
    record(
        session,
        actor,
        "complaint.create",
        target_type="complaint",
        target_id=complaint.id,
        brand_id=brand_id,
        details={"ticket": ticket.number, "level": level},
    )
    publish(session, "complaint.created", complaint_event(complaint, ticket), _topics(brand_id, ticket.id))
    return complaint


def register_for_ticket(session: Session, ticket: Ticket, actor: Principal | None) -> Complaint:
    """A case classified as a complaint on any channel gets its complaint record, so its deadlines are watched."""
    existing = session.scalar(select(Complaint).where(Complaint.ticket_id == ticket.id))
    if existing is not None:
        return existing
    brand = session.get(Brand, ticket.brand_id)
    assert brand is not None
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id is not None else None
    level = str((ticket.custom_fields or {}).get("complaint_level") or "normal")
    if (ticket.custom_fields or {}).get("complaint_level") is None:
        tickets.update_ticket(session, ticket, actor, {"custom_fields": {"complaint_level": level}})
    cal = _business(session, ticket.brand_id, ticket.team_id)
    received = ticket.created_at
    complaint = Complaint(
        brand_id=ticket.brand_id,
        ticket_id=ticket.id,
        level=level if level in COMPLAINT_LEVELS else "normal",
        complainant_name=(customer.name if customer else "") or "",
        complainant_contact=((customer.email or customer.phone) if customer else "") or "",
        channel=ticket.channel,
        description=ticket.description or ticket.subject,
        received_at=received,
        acknowledge_due_at=cal.add_business_days(received, 1),
        reply_due_at=cal.add_business_days(
            received, int(brand.settings.get("complaint_reply_days", DEFAULT_REPLY_DAYS))
        ),
        created_by=actor.agent_id if actor else None,
    )
    session.add(complaint)
    session.flush()
    record(
        session,
        actor,
        "complaint.create",
        target_type="complaint",
        target_id=complaint.id,
        brand_id=ticket.brand_id,
        details={"ticket": ticket.number, "level": complaint.level, "from": "intake"},
    )
    publish(session, "complaint.created", complaint_event(complaint, ticket), _topics(ticket.brand_id, ticket.id))
    return complaint


def complaint_of_ticket(session: Session, ticket: Ticket) -> Complaint:
    """The complaint record of a case the caller may see (404 when the case is not a complaint)."""
    c = session.scalar(select(Complaint).where(Complaint.ticket_id == ticket.id))
    if c is None:
        raise NotFound.said("err_complaints_not_a_complaint", number=ticket.number)
    return c


def regulator_case_of_ticket(session: Session, ticket: Ticket) -> RegulatorCase:
    """The regulator letter of a case the caller may see (404 when the case is not one)."""
    c = session.scalar(select(RegulatorCase).where(RegulatorCase.ticket_id == ticket.id))
    if c is None:
        raise NotFound.said("err_complaints_not_a_regulator_case", number=ticket.number)
    return c


def complaint_event(c: Complaint, t: Ticket) -> dict[str, Any]:
    """Realtime payload of a complaint."""
    return {"id": c.id, "ticket_id": t.id, "number": t.number, "level": c.level, "status": c.status}


def get_complaint(session: Session, complaint_id: int, actor: Principal | None) -> Complaint:
    """A complaint (404 when missing or in another brand)."""
    c = get_in_brand(session, Complaint, complaint_id, actor, f"Complaint {complaint_id}")
    return c


def _ticket(session: Session, c: Complaint | RegulatorCase) -> Ticket:
    t = session.get(Ticket, c.ticket_id)
    assert t is not None  # ticket_id is a non-null FK with cascade
    return t


def _move_ticket(session: Session, t: Ticket, actor: Principal | None, status: str) -> None:
    if t.status != status and status in tickets.TRANSITIONS[t.status]:
        tickets.update_ticket(session, t, actor, {"status": status})


def _resolve_at(session: Session, t: Ticket, actor: Principal | None, at: datetime) -> None:
    # Why: a reply recorded after the fact must count at the time it was actually sent, for SLA and statistics.
    _move_ticket(session, t, actor, "resolved")
    if t.status == "resolved" and t.resolved_at is not None and at < t.resolved_at:
        t.resolved_at = at
        session.flush()
        sla.refresh_ticket_sla(session, t)


def update_complaint(
    session: Session, c: Complaint, actor: Principal | None, command: UpdateComplaint | Mapping[str, Any]
) -> Complaint:
    """Edit form fields or the level (a level change re-matches the ticket's SLA policy)."""
    changes = changes_of(ensure(UpdateComplaint, command))
    if c.status == "closed":
        raise Conflict.said("err_complaints_closed")
    level = changes.get("level")
    if level is not None and level not in COMPLAINT_LEVELS:
        raise InvalidInput.said("err_complaints_level_choice", choices=", ".join(COMPLAINT_LEVELS))
    for key, value in changes.items():
        if value is not None:
            setattr(c, key, value)
    c.updated_at = utcnow()
    if level is not None:
        t = _ticket(session, c)
        tags = [x for x in t.tags or [] if not str(x).startswith("complaint:")] + [f"complaint:{level}"]
        tickets.update_ticket(session, t, actor, {"custom_fields": {"complaint_level": level}, "tags": tags})
    session.flush()
    record(
        session,
        actor,
        "complaint.update",
        target_type="complaint",
        target_id=c.id,
        brand_id=c.brand_id,
        details={"fields": sorted(changes)},
    )
    return c


def acknowledge(
    session: Session, c: Complaint, actor: Principal | None, message: str, at: datetime | None = None
) -> Complaint:
    """Acknowledge receipt to the complainant (a public update; counts as the ticket's first response)."""
    if c.acknowledged_at is not None:
        raise Conflict.said("err_complaints_already_acknowledged")
    c.acknowledged_at = _now(at)
    c.status = "acknowledged"
    c.updated_at = utcnow()
    t = _ticket(session, c)
    tickets.add_comment(session, t, actor, message, public=True)
    if t.first_response_at is None or t.first_response_at > c.acknowledged_at:
        t.first_response_at = c.acknowledged_at
    _move_ticket(session, t, actor, "open")
    sla.refresh_ticket_sla(session, t)
    _log(session, actor, c, "complaint.acknowledge")
    return c


def form_task_force(
    session: Session, c: Complaint, actor: Principal | None, members: Sequence[int], at: datetime | None = None
) -> Complaint:
    """Record that the task force (專案小組) for a major complaint was formed (meets the `task_force` milestone)."""
    if c.task_force_formed_at is not None:
        raise Conflict.said("err_complaints_already_task_force")
    c.task_force_formed_at = _now(at)
    c.updated_at = utcnow()
    t = _ticket(session, c)
    add_activity(session, t, "task_force", data={"members": list(members)}, agent_id=actor.agent_id if actor else None)
    sla.reach_milestone(session, t, "task_force", c.task_force_formed_at)
    _log(session, actor, c, "complaint.task_force", members=list(members))
    return c


def reply(
    session: Session, c: Complaint, actor: Principal | None, message: str, at: datetime | None = None
) -> Complaint:
    """Send the full reply (public update) and resolve the ticket."""
    if c.replied_at is not None:
        raise Conflict.said("err_complaints_already_answered")
    c.replied_at = _now(at)
    c.acknowledged_at = c.acknowledged_at or c.replied_at
    c.status = "replied"
    c.updated_at = utcnow()
    t = _ticket(session, c)
    tickets.add_comment(session, t, actor, message, public=True)
    _resolve_at(session, t, actor, c.replied_at)
    _log(session, actor, c, "complaint.reply")
    return c


def close_complaint(session: Session, c: Complaint, actor: Principal | None, outcome: str) -> Complaint:
    """Close the complaint with its outcome and close the ticket."""
    if c.status == "closed":
        raise Conflict.said("err_complaints_already_closed")
    now = utcnow()
    c.status, c.outcome, c.closed_at, c.updated_at = "closed", outcome, now, now
    _move_ticket(session, _ticket(session, c), actor, "closed")
    _log(session, actor, c, "complaint.close")
    return c


def _log(session: Session, actor: Principal | None, c: Complaint, action: str, **details: Any) -> None:
    session.flush()
    record(session, actor, action, target_type="complaint", target_id=c.id, brand_id=c.brand_id, details=details)
    publish(session, action, complaint_event(c, _ticket(session, c)), _topics(c.brand_id, c.ticket_id))


def list_complaints(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    level: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Complaint], str | None]:
    """Complaints, latest received first."""
    stmt = select(Complaint)
    stmt = scope_to_brands(stmt, Complaint.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Complaint.brand_id == brand_id)
    if level:
        stmt = stmt.where(Complaint.level == level)
    if status:
        stmt = stmt.where(Complaint.status == status)
    return keyset_page(session, stmt, Complaint.received_at, Complaint.id, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------- regulator cases


def create_regulator_case(
    session: Session,
    *,
    brand_id: int,
    actor: Principal | None,
    agency: str,
    subject: str,
    received_at: datetime,
    reference_no: str = "",
    summary: str = "",
    coordination_meeting: bool = False,
    meeting_at: datetime | None = None,
    customer_id: int | None = None,
    complaint_id: int | None = None,
) -> RegulatorCase:
    """Register an official letter; its ticket (category regulator_letter) is due N calendar days after receipt."""
    brand = get_brand(session, brand_id, actor)
    received = _now(received_at)
    if complaint_id is not None:
        ref_in_brand(
            session,
            Complaint,
            complaint_id,
            brand_id,
            "err_core_complaint_not_in_brand",
            complaint_id=complaint_id,
        )
    ticket = tickets.create_ticket(
        session,
        brand_id=brand_id,
        subject=f"{agency}來函 {reference_no} {subject}".strip(),
        description=summary,
        actor=actor,
        customer_id=customer_id,
        category="regulator_letter",
        channel="letter",
        priority="high",
        tags=["regulator"] + (["coordination_meeting"] if coordination_meeting else []),
        custom_fields={"regulator_case": True},
        opened_at=received,
    )
    days = int(brand.settings.get("regulator_deadline_days", DEFAULT_REGULATOR_DAYS))
    due = sla.calendars_for(session, brand_id, ticket.team_id)["24x7"].add_calendar(received, days=days)
    case = RegulatorCase(
        brand_id=brand_id,
        ticket_id=ticket.id,
        agency=agency,
        reference_no=reference_no,
        subject=subject,
        summary=summary,
        coordination_meeting=coordination_meeting,
        meeting_at=meeting_at,
        received_at=received,
        due_at=due,
        complaint_id=complaint_id,
        created_by=actor.agent_id if actor else None,
    )
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        "regulator_case.create",
        target_type="regulator_case",
        target_id=case.id,
        brand_id=brand_id,
        details={"ticket": ticket.number, "agency": agency, "reference_no": reference_no},
    )
    publish(session, "regulator_case.created", {"id": case.id, "ticket_id": ticket.id}, _topics(brand_id, ticket.id))
    return case


def get_regulator_case(session: Session, case_id: int, actor: Principal | None) -> RegulatorCase:
    """A regulator case (404 when missing or in another brand)."""
    c = get_in_brand(session, RegulatorCase, case_id, actor, f"Regulator case {case_id}")
    return c


def update_regulator_case(
    session: Session, c: RegulatorCase, actor: Principal | None, command: UpdateRegulatorCase | Mapping[str, Any]
) -> RegulatorCase:
    """Edit a case (agency, reference, summary, coordination meeting): the fields the command sets."""
    changes = changes_of(ensure(UpdateRegulatorCase, command))
    for key, value in changes.items():
        if value is not None or key == "meeting_at":
            setattr(c, key, value)
    if changes.get("coordination_meeting"):
        t = _ticket(session, c)
        if "coordination_meeting" not in (t.tags or []):
            tickets.update_ticket(session, t, actor, {"tags": [*(t.tags or []), "coordination_meeting"]})
    c.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "regulator_case.update",
        target_type="regulator_case",
        target_id=c.id,
        brand_id=c.brand_id,
        details={"fields": sorted(changes)},
    )
    return c


def reply_regulator_case(
    session: Session, c: RegulatorCase, actor: Principal | None, message: str, at: datetime | None = None
) -> RegulatorCase:
    """Record the full reply to the agency (this is what the deadline measures) and resolve the ticket."""
    if c.replied_at is not None:
        raise Conflict.said("err_complaints_case_already_answered")
    c.replied_at = _now(at)
    c.status = "replied"
    c.updated_at = utcnow()
    t = _ticket(session, c)
    add_activity(session, t, "regulator_reply", body=message, agent_id=actor.agent_id if actor else None)
    _resolve_at(session, t, actor, c.replied_at)
    session.flush()
    record(session, actor, "regulator_case.reply", target_type="regulator_case", target_id=c.id, brand_id=c.brand_id)
    return c


def close_regulator_case(session: Session, c: RegulatorCase, actor: Principal | None) -> RegulatorCase:
    """Close an answered case and its ticket."""
    if c.replied_at is None:
        raise Conflict.said("err_complaints_reply_before_close")
    if c.status == "closed":
        raise Conflict.said("err_complaints_case_already_closed")
    now = utcnow()
    c.status, c.closed_at, c.updated_at = "closed", now, now
    _move_ticket(session, _ticket(session, c), actor, "closed")
    session.flush()
    record(session, actor, "regulator_case.close", target_type="regulator_case", target_id=c.id, brand_id=c.brand_id)
    return c


def list_regulator_cases(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    status: str | None,
    overdue: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[RegulatorCase], str | None]:
    """Regulator cases, latest received first (overdue = unanswered past due)."""
    stmt = select(RegulatorCase)
    stmt = scope_to_brands(stmt, RegulatorCase.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(RegulatorCase.brand_id == brand_id)
    if status:
        stmt = stmt.where(RegulatorCase.status == status)
    if overdue:
        stmt = stmt.where(RegulatorCase.replied_at.is_(None), RegulatorCase.due_at < utcnow())
    return keyset_page(session, stmt, RegulatorCase.received_at, RegulatorCase.id, limit=limit, cursor=cursor)


class MonthStats(DeadlineStats):
    """On-time statistics of the regulator cases received in one month (or the year)."""

    month: str
    received: int = 0
    with_meeting: int = 0
    replied: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """Share answered within the deadline among decided cases (None when nothing is decided yet)."""
        return self.rate()


def regulator_stats(
    session: Session, brand_id: int, actor: Principal | None, *, year: int, now: datetime | None = None
) -> tuple[list[MonthStats], MonthStats]:
    """Per month of receipt (brand's timezone) of `year`: received, answered on time / late, overdue; and totals."""
    brand: Brand = get_brand(session, brand_id, actor)
    now = now or utcnow()
    tz = ZoneInfo(brand.timezone)
    start, end = year_range(year, tz)
    rows = session.execute(
        select(
            RegulatorCase.received_at,
            RegulatorCase.replied_at,
            RegulatorCase.due_at,
            RegulatorCase.coordination_meeting,
        ).where(RegulatorCase.brand_id == brand_id, RegulatorCase.received_at >= start, RegulatorCase.received_at < end)
    )

    def add(bucket: MonthStats, row: Sequence[Any]) -> None:
        _, replied, due, meeting = row
        bucket.received += 1
        bucket.with_meeting += int(bool(meeting))
        bucket.replied += int(replied is not None)
        bucket.count(replied, due, now)

    return by_month(rows, year=year, tz=tz, new=lambda month: MonthStats(month=month), add=add)


# --------------------------------------------------------------------------- deadline board (console)

SOON = timedelta(hours=24)


@dataclass
class BoardItem:
    """One open obligation on the deadline board: a complaint's acknowledgement/reply or a regulator letter's answer."""

    kind: str  # "ack" | "reply" | "regulator"
    brand_id: int
    ticket_id: int
    ticket_number: str
    title: str
    due_at: datetime
    state: str  # "overdue" | "soon" | "ok"
    complaint: Complaint | None = None
    regulator: RegulatorCase | None = None


def deadline_board(
    session: Session, principal: Principal, *, now: datetime | None = None, soon: timedelta = SOON, limit: int = 500
) -> list[BoardItem]:
    """Every unanswered complaint and regulator letter in the caller's brands, the nearest deadline first."""
    now = now or utcnow()
    items: list[BoardItem] = []

    def state(due: datetime) -> str:
        return "overdue" if due < now else "soon" if due < now + soon else "ok"

    cstmt = (
        select(Complaint, Ticket.number)
        .join(Ticket, Ticket.id == Complaint.ticket_id)
        .where(Complaint.replied_at.is_(None), Complaint.closed_at.is_(None))
    )
    rstmt = (
        select(RegulatorCase, Ticket.number)
        .join(Ticket, Ticket.id == RegulatorCase.ticket_id)
        .where(RegulatorCase.replied_at.is_(None), RegulatorCase.closed_at.is_(None))
    )
    cstmt = scope_to_brands(cstmt, Complaint.brand_id, principal)
    rstmt = scope_to_brands(rstmt, RegulatorCase.brand_id, principal)
    for c, number in session.execute(cstmt.order_by(Complaint.reply_due_at).limit(limit)):
        kind, due = ("ack", c.acknowledge_due_at) if c.acknowledged_at is None else ("reply", c.reply_due_at)
        title = c.product or c.description[:60]
        items.append(BoardItem(kind, c.brand_id, c.ticket_id, number, title, due, state(due), complaint=c))
    for r, number in session.execute(rstmt.order_by(RegulatorCase.due_at).limit(limit)):
        items.append(
            BoardItem("regulator", r.brand_id, r.ticket_id, number, r.subject, r.due_at, state(r.due_at), regulator=r)
        )
    items.sort(key=lambda i: i.due_at)
    return items


@dataclass
class OnTime:
    """Answered on time / late among complaints and regulator letters received since a date."""

    complaints_replied: int = 0
    complaints_on_time: int = 0
    regulator_replied: int = 0
    regulator_on_time: int = 0

    @staticmethod
    def rate(on_time: int, replied: int) -> float | None:
        """Share on time in percent (None without answered cases)."""
        return round(100.0 * on_time / replied, 1) if replied else None


def on_time_figures(session: Session, principal: Principal, *, since: datetime) -> OnTime:
    """On-time answer figures of cases received since `since` in the caller's brands."""
    out = OnTime()
    cstmt = select(Complaint.replied_at, Complaint.reply_due_at).where(
        Complaint.received_at >= since, Complaint.replied_at.is_not(None)
    )
    rstmt = select(RegulatorCase.replied_at, RegulatorCase.due_at).where(
        RegulatorCase.received_at >= since, RegulatorCase.replied_at.is_not(None)
    )
    cstmt = scope_to_brands(cstmt, Complaint.brand_id, principal)
    rstmt = scope_to_brands(rstmt, RegulatorCase.brand_id, principal)
    for replied, due in session.execute(cstmt):
        out.complaints_replied += 1
        out.complaints_on_time += int(replied is not None and replied <= due)
    for replied, due in session.execute(rstmt):
        out.regulator_replied += 1
        out.regulator_on_time += int(replied is not None and replied <= due)
    return out
