"""SLA configuration, ticket SLA state, at-risk lists, sweep trigger and notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from kefu.auth.deps import DB, CurrentPrincipal, require
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.db import utcnow
from kefu.core.pagination import Page
from kefu.routing.service import install_default_routing
from kefu.sla import notifications, service, updates
from kefu.sla.calendar import available_holiday_sets, load_holiday_set, missing_makeup_years
from kefu.sla.models import EscalationContact, SlaCalendar, SlaPolicyRecord
from kefu.sla.policy import DEFAULT_SERVICE_TIER, EscalationLadder
from kefu.sla.schemas import (
    CalendarIn,
    CalendarOut,
    ContactOut,
    ContactsIn,
    DefaultsIn,
    DefaultsOut,
    HolidaySetOut,
    NotificationOut,
    PolicyIn,
    PolicyOut,
    PolicyUpdate,
    SweepOut,
    TargetOut,
    TicketSlaOut,
)
from kefu.tickets.service import get_ticket, install_default_categories
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["sla"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Configure = Annotated[Principal, Depends(require("teams:manage"))]


def _policy_out(r: SlaPolicyRecord) -> PolicyOut:
    return PolicyOut(
        id=r.id,
        brand_id=r.brand_id,
        name=r.name,
        position=r.position,
        is_active=r.is_active,
        policy=r.definition,
        problem=service.policy_problem(r.name, r.definition),
    )


def _calendar_out(r: SlaCalendar) -> CalendarOut:
    return CalendarOut(id=r.id, brand_id=r.brand_id, team_id=r.team_id, name=r.name, config=r.config)


@router.get("/sla/policies", response_model=list[PolicyOut])
def list_policies(brand_id: int, db: DB, principal: Read) -> list[PolicyOut]:
    """A brand's SLA policies in evaluation order."""
    get_brand(db, brand_id, principal)
    rows = db.scalars(
        select(SlaPolicyRecord)
        .where(SlaPolicyRecord.brand_id == brand_id)
        .order_by(SlaPolicyRecord.position, SlaPolicyRecord.id)
    )
    return [_policy_out(r) for r in rows]


@router.post("/sla/policies", response_model=PolicyOut, status_code=201)
def create_policy(body: PolicyIn, db: DB, principal: Configure) -> PolicyOut:
    """Add a policy (admins and supervisors)."""
    row = service.create_policy(
        db,
        brand_id=body.brand_id,
        policy=body.policy,
        actor=principal,
        position=body.position,
        is_active=body.is_active,
    )
    return _policy_out(row)


@router.patch("/sla/policies/{policy_id}", response_model=PolicyOut)
def update_policy(policy_id: int, body: PolicyUpdate, db: DB, principal: Configure) -> PolicyOut:
    """Change a policy (applies to tickets created or re-matched afterwards)."""
    row = service.get_policy(db, policy_id, principal)
    return _policy_out(
        service.update_policy(db, row, principal, policy=body.policy, position=body.position, is_active=body.is_active)
    )


@router.delete("/sla/policies/{policy_id}", status_code=204)
def delete_policy(policy_id: int, db: DB, principal: Configure) -> None:
    """Delete a policy."""
    service.delete_policy(db, service.get_policy(db, policy_id, principal), principal)


@router.get("/sla/calendars", response_model=list[CalendarOut])
def list_calendars(brand_id: int, db: DB, principal: Read) -> list[CalendarOut]:
    """A brand's stored calendars (brand-wide and team overrides)."""
    get_brand(db, brand_id, principal)
    rows = db.scalars(select(SlaCalendar).where(SlaCalendar.brand_id == brand_id).order_by(SlaCalendar.id))
    return [_calendar_out(r) for r in rows]


@router.post("/sla/calendars", response_model=CalendarOut, status_code=201)
def create_calendar(body: CalendarIn, db: DB, principal: Configure) -> CalendarOut:
    """Store a calendar: weekly hours, holidays, make-up workdays (補班), special hours, bundled holiday sets."""
    row = service.save_calendar(db, brand_id=body.brand_id, config=body.config, actor=principal, team_id=body.team_id)
    return _calendar_out(row)


@router.put("/sla/calendars/{calendar_id}", response_model=CalendarOut)
def replace_calendar(calendar_id: int, body: CalendarIn, db: DB, principal: Configure) -> CalendarOut:
    """Replace a stored calendar."""
    row = service.get_calendar(db, calendar_id, principal)
    saved = service.save_calendar(
        db, brand_id=row.brand_id, config=body.config, actor=principal, team_id=body.team_id, row=row
    )
    return _calendar_out(saved)


@router.delete("/sla/calendars/{calendar_id}", status_code=204)
def delete_calendar(calendar_id: int, db: DB, principal: Configure) -> None:
    """Delete a stored calendar (the built-in one of that name applies again)."""
    service.delete_calendar(db, service.get_calendar(db, calendar_id, principal), principal)


@router.post("/sla/defaults", response_model=DefaultsOut)
def install_defaults(body: DefaultsIn, db: DB, principal: Configure) -> DefaultsOut:
    """Install the seed calendars and policies (and optionally categories and routing) into a brand."""
    added = service.install_defaults(db, body.brand_id, principal)
    out = DefaultsOut(calendars=added["calendars"], policies=added["policies"])
    if body.categories:
        out.categories = install_default_categories(db, body.brand_id, principal)
    if body.routing:
        routed = install_default_routing(db, body.brand_id, principal)
        out.routing_rules, out.team_routing = routed["rules"], routed["teams"]
    return out


class TiersOut(BaseModel):
    """A brand's service tier and the tiers it may choose (set with PATCH /brands/{id} {"settings":{"sla_tier"}})."""

    brand_id: int
    current: str
    default: str
    tiers: dict[str, str]


@router.get("/sla/holiday-sets", response_model=list[HolidaySetOut])
def holiday_sets(principal: Read) -> list[HolidaySetOut]:
    """Public-holiday sets for calendars, with the years whose make-up workdays (调休) still need an override."""
    today = utcnow().date()
    out = []
    for name in available_holiday_sets():
        data = load_holiday_set(name)
        years = sorted({d.year for d in data.holidays})
        out.append(
            HolidaySetOut(
                name=name,
                timezone=data.timezone,
                source=data.source,
                first_year=years[0] if years else None,
                last_year=years[-1] if years else None,
                makeup_years=data.makeup_years,
                missing_makeup_years=missing_makeup_years(name, today),
            )
        )
    return out


@router.get("/sla/tiers", response_model=TiersOut)
def service_tiers(brand_id: int, db: DB, principal: Read) -> TiersOut:
    """The brand's service tier (gives every ticket its reply deadline) and the available tiers."""
    brand = get_brand(db, brand_id, principal)
    return TiersOut(
        brand_id=brand.id,
        current=service.service_tier(brand),
        default=DEFAULT_SERVICE_TIER,
        tiers=service.known_tiers(db, brand.id),
    )


@router.get("/sla/escalation-contacts", response_model=list[ContactOut])
def list_contacts(brand_id: int, db: DB, principal: Read) -> list[ContactOut]:
    """Who is notified at each escalation level."""
    get_brand(db, brand_id, principal)
    rows = db.scalars(
        select(EscalationContact).where(EscalationContact.brand_id == brand_id).order_by(EscalationContact.id)
    )
    return [ContactOut.model_validate(r) for r in rows]


@router.put("/sla/escalation-contacts", response_model=list[ContactOut])
def set_contacts(body: ContactsIn, db: DB, principal: Configure) -> list[ContactOut]:
    """Replace a brand's escalation contacts."""
    rows = service.set_escalation_contacts(
        db, body.brand_id, [(c.level, c.agent_id, c.team_id) for c in body.contacts], principal
    )
    return [ContactOut.model_validate(r) for r in rows]


@router.get("/tickets/{ticket_id}/sla", response_model=TicketSlaOut)
def ticket_sla(ticket_id: int, db: DB, principal: Read) -> TicketSlaOut:
    """A ticket's SLA state, evaluated now (deadlines, met/breached, escalation level)."""
    ticket = get_ticket(db, ticket_id, principal)
    service.refresh_ticket_sla(db, ticket)
    state, targets = service.ticket_sla(db, ticket.id)
    if state is None:
        return TicketSlaOut(
            ticket_id=ticket.id,
            policy_name=None,
            status=None,
            breached=False,
            escalation_level=0,
            escalation_name=None,
            next_check_at=None,
            targets=[],
        )
    try:
        ladder = EscalationLadder.model_validate(state.policy.get("escalation") or {})
    except ValidationError:  # a snapshot older than a rule (kefu.sla.runtime skips it too): the default ladder
        ladder = EscalationLadder()
    return TicketSlaOut(
        ticket_id=ticket.id,
        policy_name=state.policy_name,
        status=state.status,
        breached=state.breached,
        escalation_level=state.escalation_level,
        escalation_name=ladder.levels[min(state.escalation_level, len(ladder.levels) - 1)],
        next_check_at=state.next_check_at,
        targets=[TargetOut.model_validate(t) for t in targets],
    )


@router.get("/sla/at-risk", response_model=Page[TargetOut])
def at_risk(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    within_minutes: Annotated[int, Query(ge=0, le=60 * 24 * 30)] = 60,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[TargetOut]:
    """Unmet targets due within the window (breached ones first: soonest due first)."""
    rows, nxt = service.at_risk(
        db,
        principal,
        brand_id=brand_id,
        before=utcnow() + timedelta(minutes=within_minutes),
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[TargetOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/sla/sweep", response_model=SweepOut)
def run_sweep(db: DB, principal: Annotated[Principal, Depends(require("brands:manage"))]) -> SweepOut:
    """Run one sweep batch now (admins; the `sla.sweep` job normally does this every minute)."""
    result = service.sweep(db)
    return SweepOut(**result.__dict__)


@router.get("/notifications", response_model=Page[NotificationOut], tags=["notifications"])
def list_notifications(
    db: DB,
    principal: CurrentPrincipal,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[NotificationOut]:
    """The caller's notifications, newest first."""
    rows, nxt = notifications.list_notifications(db, principal, unread=unread, limit=limit, cursor=cursor)
    return Page(items=[NotificationOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/notifications/{notification_id}/read", status_code=204, tags=["notifications"])
def read_one(notification_id: int, db: DB, principal: CurrentPrincipal) -> None:
    """Mark a notification as read."""
    notifications.mark_read(db, principal, notification_id)


@router.post("/notifications/read-all", tags=["notifications"])
def read_all(db: DB, principal: CurrentPrincipal) -> dict[str, int]:
    """Mark all of the caller's notifications as read."""
    return {"updated": notifications.mark_read(db, principal)}


# ---------------------------------------------------------------- progress-update clock (#17)

Reports = Annotated[Principal, Depends(require("reports:read"))]


class LapsePage(BaseModel):
    """Cases whose progress update is overdue now."""

    items: list[updates.LapseItem]


@router.get("/progress-updates/overdue", response_model=LapsePage)
def progress_overdue(db: DB, principal: Read, brand_id: int | None = None) -> LapsePage:
    """Open urgent/complaint cases past their update interval (default 30 minutes), longest overdue first."""
    return LapsePage(items=updates.overdue(db, principal, brand_id=brand_id))


@router.get("/progress-updates/stats", response_model=updates.LapseStats)
def progress_stats(brand_id: int, start: datetime, end: datetime, db: DB, principal: Reports) -> updates.LapseStats:
    """Missed progress-update intervals in a period: count, cases, minutes late, per assignee."""
    return updates.stats(db, brand_id, principal, start=_aware(start), end=_aware(end))


def _aware(value: datetime) -> datetime:
    # A date-time without an offset is read as UTC, the API's convention.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
