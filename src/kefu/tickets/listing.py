"""Console ticket list: views, filters, sort and keyset pages of tickets with or without a conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from kefu.auth.models import Agent, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.complaints.models import Complaint, RegulatorCase
from kefu.core import like
from kefu.core.access import scope_to_brands
from kefu.core.catalog import gettext
from kefu.core.db import utcnow
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.sla.models import TicketSla, TicketSlaTarget
from kefu.tickets import history
from kefu.tickets.models import OPEN_STATUSES, PRIORITIES, TICKET_STATUSES, Ticket

VIEWS = ("mine", "team", "unassigned", "sla", "vip", "complaints", "all", "closed")
SORTS = ("updated", "created", "oldest")
SLA_STATES = ("at_risk", "breached", "ok")
SEGMENTS = ("vip", "b2b")
PAGE_SIZE = 50
_RUNNING = ("running", "warning", "breached")


class TicketQuery(BaseModel):
    """The list's query string: a view plus filters; unknown values are a 422, never a 500."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    view: str = Field("all", pattern="^(" + "|".join(VIEWS) + ")$")
    status: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)
    team_id: int | None = None
    assignee: str | None = Field(None, pattern=r"^(me|none|\d{1,18})$")
    channel: str | None = Field(None, max_length=32)
    category: str | None = Field(None, max_length=64)
    tag: str | None = Field(None, max_length=64)
    sla: str | None = Field(None, pattern="^(" + "|".join(SLA_STATES) + ")$")
    segment: str | None = Field(None, pattern="^(" + "|".join(SEGMENTS) + ")$")
    created_from: date | None = None
    created_to: date | None = None
    q: str | None = Field(None, max_length=200)
    sort: str = Field("updated", pattern="^(" + "|".join(SORTS) + ")$")
    cursor: str | None = Field(None, max_length=500)

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in TICKET_STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}")
        return value

    @field_validator("priority")
    @classmethod
    def _priorities(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in PRIORITIES]
        if bad:
            raise ValueError(f"unknown priority {bad[0]!r}")
        return value

    @field_validator(
        "channel", "category", "tag", "q", "cursor", "assignee", "sla", "segment", "team_id", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _blank_date(cls, value: Any) -> Any:
        return None if value == "" else value

    def params(self, **override: Any) -> list[tuple[str, str]]:
        """Query-string pairs reproducing this query (for links: sort, next page, saved views)."""
        data = self.model_dump(exclude_none=True) | override
        out: list[tuple[str, str]] = []
        for key, value in data.items():
            if (
                value is None
                or value == []
                or (key == "view" and value == "all")
                or (key == "sort" and value == "updated")
            ):
                continue
            for v in value if isinstance(value, list) else [value]:
                out.append((key, v.isoformat() if isinstance(v, date) else str(v)))
        return out


@dataclass
class TicketRow:
    """One line of the list, everything the template shows without further queries."""

    ticket: Ticket
    customer: Customer | None
    assignee: Agent | None
    team: Team | None
    conversation_id: int | None
    sla_state: str | None  # at_risk | breached | ok | None (no SLA)
    sla_due_at: datetime | None
    waiting_since: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)


def complaint_condition() -> ColumnElement[bool]:
    """Tickets that are complaints: the complaint category, a complaints-register entry or a regulator case."""
    return or_(
        Ticket.category == "complaint",
        exists().where(Complaint.ticket_id == Ticket.id),
        exists().where(RegulatorCase.ticket_id == Ticket.id),
    )


def _open_target(now: datetime) -> ColumnElement[bool]:
    return and_(
        TicketSlaTarget.ticket_id == Ticket.id, TicketSlaTarget.met_at.is_(None), TicketSlaTarget.status.in_(_RUNNING)
    )


def breached_condition(now: datetime) -> ColumnElement[bool]:
    """An unmet target is past due, judged on the clock now (not only when the sweep last looked)."""
    return or_(
        exists().where(_open_target(now), TicketSlaTarget.due_at <= now),
        exists().where(TicketSla.ticket_id == Ticket.id, TicketSla.status == "breached"),
    )


def at_risk_condition(now: datetime) -> ColumnElement[bool]:
    """An unmet target is past its warning time but not yet due."""
    return and_(
        ~breached_condition(now),
        or_(
            exists().where(_open_target(now), TicketSlaTarget.warn_at <= now, TicketSlaTarget.due_at > now),
            exists().where(TicketSla.ticket_id == Ticket.id, TicketSla.status == "warning"),
        ),
    )


def sla_risk_condition(now: datetime) -> ColumnElement[bool]:
    """The "SLA at risk" view: open tickets warned or breached, whatever channel (phone, register, chat)."""
    return and_(
        Ticket.status.in_(OPEN_STATUSES),
        or_(
            exists().where(_open_target(now), or_(TicketSlaTarget.warn_at <= now, TicketSlaTarget.due_at <= now)),
            # The sweep's verdict counts too (it may know of pauses and calendars the raw deadlines do not show).
            exists().where(TicketSla.ticket_id == Ticket.id, TicketSla.status.in_(("warning", "breached"))),
        ),
    )


class LocalTime:
    """Template helper: a UTC time shown in its brand's timezone."""

    def __init__(self, zones: dict[int, ZoneInfo]) -> None:
        self.zones = zones

    def __call__(self, value: datetime | None, brand_id: int, fmt: str = "%m-%d %H:%M") -> str:
        """Format `value` in the brand's zone (empty for None)."""
        if value is None:
            return ""
        return value.astimezone(self.zones.get(brand_id, ZoneInfo("Asia/Taipei"))).strftime(fmt)


def case_history_names(session: Session, data: dict[str, Any], local: LocalTime) -> history.Names:
    """What a case page's history entries refer to, from what `case_data` loaded (kefu.tickets.history)."""
    ticket = data["ticket"]
    return history.history_names(
        session,
        data["history"],
        agents={a.id: a.name for a in data["agents"]},
        teams={t.id: t for t in data["teams"]},
        tickets={ticket.id: ticket.number, **{i: t.number for i, t in data["linked"].items()}},
        categories={c.key: (c.label_zh, c.label_en) for c in data["categories"]},
        fields={f.key: (f.label_zh, f.label_en) for f in data["fields"]},
        tz=local.zones.get(ticket.brand_id, ZoneInfo("Asia/Taipei")),
    )


def brand_zones(session: Session, brand_ids: set[int] | frozenset[int] | None) -> dict[int, ZoneInfo]:
    """Timezones of the given brands (all brands for None)."""
    stmt = select(Brand.id, Brand.timezone)
    if brand_ids is not None:
        stmt = stmt.where(Brand.id.in_(brand_ids))
    return {bid: ZoneInfo(tz or "Asia/Taipei") for bid, tz in session.execute(stmt)}


def filter_zone(session: Session, principal: Principal) -> ZoneInfo:
    """The zone date filters are read in: the principal's brands' zone when they share one, else Asia/Taipei."""
    zones = {z.key for z in brand_zones(session, principal.brand_ids).values()}
    return ZoneInfo(zones.pop() if len(zones) == 1 else "Asia/Taipei")


def team_ids_of(session: Session, agent_id: int) -> list[int]:
    """Teams the agent belongs to."""
    return list(session.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent_id)))


def build_query(session: Session, principal: Principal, query: TicketQuery, now: datetime) -> Select[Ticket]:
    """The filtered statement (brand scoping first; views are fixed filter sets)."""
    stmt = select(Ticket).where(Ticket.merged_into_id.is_(None))
    stmt = scope_to_brands(stmt, Ticket.brand_id, principal)
    view = query.view
    if view == "closed":
        stmt = stmt.where(Ticket.status.in_(("resolved", "closed")))
    elif view != "all" and not query.status:
        stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
    if view == "mine":
        stmt = stmt.where(Ticket.assignee_id == principal.agent_id)
    elif view == "team":
        stmt = stmt.where(Ticket.team_id.in_(team_ids_of(session, principal.agent_id)))
    elif view == "unassigned":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif view == "vip":
        stmt = stmt.where(exists().where(Customer.id == Ticket.customer_id, Customer.vip.is_(True)))
    elif view == "sla":
        stmt = stmt.where(sla_risk_condition(now))
    elif view == "complaints":
        stmt = stmt.where(complaint_condition())
    if query.status:
        stmt = stmt.where(Ticket.status.in_(query.status))
    if query.priority:
        stmt = stmt.where(Ticket.priority.in_(query.priority))
    if query.team_id is not None:
        stmt = stmt.where(Ticket.team_id == query.team_id)
    if query.assignee == "me":
        stmt = stmt.where(Ticket.assignee_id == principal.agent_id)
    elif query.assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif query.assignee is not None:
        stmt = stmt.where(Ticket.assignee_id == int(query.assignee))
    if query.channel:
        stmt = stmt.where(Ticket.channel == query.channel)
    if query.category:
        stmt = stmt.where(Ticket.category == query.category)
    if query.tag:
        # Same serialized-list LIKE as tickets.service.list_tickets (JSON containment differs per backend).
        stmt = stmt.where(like.pattern(cast(Ticket.tags, String), '%"', query.tag, '"%'))
    if query.sla == "breached":
        stmt = stmt.where(breached_condition(now))
    elif query.sla == "at_risk":
        stmt = stmt.where(at_risk_condition(now))
    elif query.sla == "ok":
        stmt = stmt.where(~breached_condition(now), ~at_risk_condition(now))
    if query.segment == "vip":
        stmt = stmt.where(exists().where(Customer.id == Ticket.customer_id, Customer.vip.is_(True)))
    elif query.segment == "b2b":
        stmt = stmt.where(Ticket.organization_id.is_not(None))
    zone = filter_zone(session, principal) if query.created_from or query.created_to else None
    if query.created_from is not None:
        stmt = stmt.where(Ticket.created_at >= datetime.combine(query.created_from, time.min, tzinfo=zone))
    if query.created_to is not None:
        end = datetime.combine(query.created_to + timedelta(days=1), time.min, tzinfo=zone)
        stmt = stmt.where(Ticket.created_at < end)
    if query.q:
        from kefu.tickets.service import search_condition

        stmt = stmt.where(search_condition(session, query.q))
    return stmt


def list_page(
    session: Session, principal: Principal, query: TicketQuery, *, limit: int = PAGE_SIZE, now: datetime | None = None
) -> tuple[list[TicketRow], str | None]:
    """One page of the list with customers, people, SLA clocks and conversations loaded in a fixed number of queries."""
    now = now or utcnow()
    stmt = build_query(session, principal, query, now)
    if query.sort == "created":
        tickets, cursor = keyset_page(session, stmt, Ticket.created_at, Ticket.id, limit=limit, cursor=query.cursor)
    elif query.sort == "oldest":
        tickets, cursor = keyset_page(
            session, stmt, Ticket.created_at, Ticket.id, limit=limit, cursor=query.cursor, descending=False
        )
    else:
        tickets, cursor = keyset_page(session, stmt, Ticket.updated_at, Ticket.id, limit=limit, cursor=query.cursor)
    return hydrate(session, tickets, now), cursor


def hydrate(session: Session, tickets: list[Ticket], now: datetime) -> list[TicketRow]:
    """Rows for tickets: one query per related table, whatever the page size."""
    if not tickets:
        return []
    ids = [t.id for t in tickets]
    customer_ids = {t.customer_id for t in tickets if t.customer_id}
    customers = (
        {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
        if customer_ids
        else {}
    )
    people = {t.assignee_id for t in tickets if t.assignee_id}
    agents = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(people)))} if people else {}
    team_set = {t.team_id for t in tickets if t.team_id}
    teams = {x.id: x for x in session.scalars(select(Team).where(Team.id.in_(team_set)))} if team_set else {}
    from kefu.conversations.models import Conversation

    convs: dict[int, int] = {}
    for tid, cid in session.execute(
        select(Conversation.ticket_id, func.max(Conversation.id))
        .where(Conversation.ticket_id.in_(ids))
        .group_by(Conversation.ticket_id)
    ):
        if tid is not None:
            convs[tid] = int(cid)
    due: dict[int, tuple[datetime | None, datetime | None]] = {}
    for tid, due_at, warn_at in session.execute(
        select(TicketSlaTarget.ticket_id, func.min(TicketSlaTarget.due_at), func.min(TicketSlaTarget.warn_at))
        .where(
            TicketSlaTarget.ticket_id.in_(ids),
            TicketSlaTarget.met_at.is_(None),
            TicketSlaTarget.status.in_(_RUNNING),
        )
        .group_by(TicketSlaTarget.ticket_id)
    ):
        due[int(tid)] = (due_at, warn_at)
    sla_status: dict[int, str] = {
        tid: st
        for tid, st in session.execute(
            select(TicketSla.ticket_id, TicketSla.status).where(TicketSla.ticket_id.in_(ids))
        )
    }
    rows = []
    for t in tickets:
        due_at, warn_at = due.get(t.id, (None, None))
        state: str | None = None
        swept = sla_status.get(t.id)
        if (due_at is not None and due_at <= now) or swept == "breached":
            state = "breached"
        elif (warn_at is not None and warn_at <= now) or swept == "warning":
            state = "at_risk"
        elif swept is not None:
            state = "ok"
        waiting = None
        if t.status in OPEN_STATUSES:
            # No agent answer yet: the customer waits since creation; afterwards since the last update.
            waiting = t.created_at if t.first_response_at is None else t.updated_at
        rows.append(
            TicketRow(
                ticket=t,
                customer=customers.get(t.customer_id) if t.customer_id else None,
                assignee=agents.get(t.assignee_id) if t.assignee_id else None,
                team=teams.get(t.team_id) if t.team_id else None,
                conversation_id=convs.get(t.id),
                sla_state=state,
                sla_due_at=due_at,
                waiting_since=waiting,
            )
        )
    return rows


def filter_options(session: Session, principal: Principal) -> dict[str, Any]:
    """Choices for the filter form: teams and agents of the principal's brands, channels in use."""
    teams = select(Team).order_by(Team.name)
    teams = scope_to_brands(teams, Team.brand_id, principal)
    return {
        "teams": list(session.scalars(teams)),
        "agents": list(session.scalars(select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name))),
        "statuses": TICKET_STATUSES,
        "priorities": PRIORITIES,
        "sla_states": SLA_STATES,
        "segments": SEGMENTS,
        "sorts": SORTS,
        "views": VIEWS,
    }


def humanize(seconds: float, locale: str) -> str:
    """A compact duration in the agent's language (3天4小時 / 3d 4h)."""
    units = (gettext("dur_day", locale), gettext("dur_hour", locale), gettext("dur_min", locale))
    sep = " " if locale == "en" else ""
    minutes = max(int(abs(seconds)) // 60, 0)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}{units[0]}{sep}{hours}{units[1]}"
    if hours:
        return f"{hours}{units[1]}{sep}{mins}{units[2]}"
    return f"{mins}{units[2]}"


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text  # not a number: the service rejects it, naming the field


def custom_fields_from_form(session: Session, brand_id: int, keys: list[str], values: list[str]) -> dict[str, Any]:
    """Typed custom-field values from the case form's strings (blank deletes); the service then validates them."""
    from kefu.tickets.models import TicketFieldDefinition

    defs = {
        d.key: d
        for d in session.scalars(select(TicketFieldDefinition).where(TicketFieldDefinition.brand_id == brand_id))
    }
    out: dict[str, Any] = {}
    for key, raw in zip(keys, values, strict=False):
        d = defs.get(key)
        text = raw.strip()
        if d is None:
            continue
        if not text:
            out[key] = None
        elif d.type in ("integer", "number"):
            out[key] = _number(text)
        elif d.type == "boolean":
            out[key] = text == "true"
        elif d.type == "multiselect":
            out[key] = [x.strip() for x in text.replace("，", ",").split(",") if x.strip()]
        else:
            out[key] = text
    return out


def case_data(session: Session, principal: Principal, ticket_id: int) -> dict[str, Any]:
    """Everything the case page shows for one ticket (brand access checked by tickets.service.get_ticket)."""
    from kefu.audit.models import AuditLog
    from kefu.conversations.models import Conversation
    from kefu.customers.accessibility import needs_of
    from kefu.customers.models import Organization
    from kefu.sla.updates import case_clock
    from kefu.surveys.models import CsatSurvey
    from kefu.tickets import service as ticket_service
    from kefu.tickets.models import TicketCategory, TicketFieldDefinition

    ticket = ticket_service.get_ticket(session, ticket_id, principal)
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    org = session.get(Organization, ticket.organization_id) if ticket.organization_id else None
    links = ticket_service.links_of(session, ticket)
    other_ids = {x.target_id if x.source_id == ticket.id else x.source_id for x in links}
    if ticket.merged_into_id:
        other_ids.add(ticket.merged_into_id)
    others = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(other_ids)))} if other_ids else {}
    teams = list(session.scalars(select(Team).where(Team.brand_id == ticket.brand_id).order_by(Team.name)))
    agents = list(session.scalars(select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name)))
    categories = list(
        session.scalars(
            select(TicketCategory)
            .where(TicketCategory.brand_id == ticket.brand_id, TicketCategory.is_active.is_(True))
            .order_by(TicketCategory.position, TicketCategory.key)
        )
    )
    fields = list(
        session.scalars(
            select(TicketFieldDefinition)
            .where(TicketFieldDefinition.brand_id == ticket.brand_id, TicketFieldDefinition.is_active.is_(True))
            .order_by(TicketFieldDefinition.position)
        )
    )
    history = list(
        session.scalars(
            select(AuditLog)
            .where(AuditLog.target_type == "ticket", AuditLog.target_id == str(ticket.id))
            .order_by(AuditLog.id.desc())
            .limit(100)
        )
    )
    return {
        "ticket": ticket,
        "customer": customer,
        "access_needs": needs_of(session, customer.id) if customer else [],
        "org": org,
        "links": links,
        "linked": others,
        "teams": teams,
        "agents": agents,
        "categories": categories,
        "fields": fields,
        "sla": session.get(TicketSla, ticket.id),
        "targets": list(
            session.scalars(
                select(TicketSlaTarget).where(TicketSlaTarget.ticket_id == ticket.id).order_by(TicketSlaTarget.id)
            )
        ),
        "complaint": session.scalar(select(Complaint).where(Complaint.ticket_id == ticket.id)),
        "regulator": session.scalar(select(RegulatorCase).where(RegulatorCase.ticket_id == ticket.id)),
        "csat": session.scalar(select(CsatSurvey).where(CsatSurvey.ticket_id == ticket.id)),
        "progress": case_clock(session, ticket),
        "conversations": list(
            session.scalars(select(Conversation).where(Conversation.ticket_id == ticket.id).order_by(Conversation.id))
        ),
        "activities": ticket_service.list_activities(session, ticket),
        "history": history,
        "statuses": TICKET_STATUSES,
        "priorities": PRIORITIES,
        "now": utcnow(),
    }
