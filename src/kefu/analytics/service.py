"""Metric computations: one SQL aggregate per metric (grouping happens in the database), with shared filters."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from kefu.analytics import rollups, stats
from kefu.analytics.metrics import (
    BOT_RECONTACT_HOURS,
    COMPLAINT_CLOSURE_HOURS,
    FCR_REOPEN_DAYS,
    FCR_REPLY_LIMIT,
    RESOLUTION_BUCKETS,
)
from kefu.analytics.sql import local_day, percentiles, seconds_between
from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.bot.models import BotState
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.complaints.models import Complaint, RegulatorCase
from kefu.conversations.models import ANNOUNCEMENT_KEYS, Conversation, Message
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput, NotFound
from kefu.customers.models import Customer, Organization
from kefu.qa.models import QaReview
from kefu.sla.models import TicketSlaTarget
from kefu.surveys.models import CsatSurvey
from kefu.tickets.models import OPEN_STATUSES, Ticket, TicketActivity, TicketCategory

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DONE = ("resolved", "closed")
MAX_RANGE_DAYS = 800


@dataclass(frozen=True)
class Filters:
    """Period [start, end), visible brands (explicit ids, so brand indexes apply) and an optional organization."""

    start: datetime
    end: datetime
    brand_ids: tuple[int, ...]
    organization_id: int | None = None
    now: datetime | None = None

    @property
    def at(self) -> datetime:
        """The 'now' used for snapshots and deadline decisions."""
        return self.now or utcnow()


def resolve_filters(
    session: Session,
    principal: Principal | None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    brand_id: int | None = None,
    organization_id: int | None = None,
    now: datetime | None = None,
) -> Filters:
    """Validate a dashboard query: default last 30 days, brands the caller may see, organization in those brands."""
    now = now or utcnow()
    end = end or now
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        start, end = start.replace(tzinfo=start.tzinfo or UTC), end.replace(tzinfo=end.tzinfo or UTC)
    if start >= end:
        raise InvalidInput.said("err_analytics_start_after_end")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise InvalidInput.said("err_analytics_range_too_long", days=MAX_RANGE_DAYS)
    if brand_id is not None:
        get_brand(session, brand_id, principal)
        brands: tuple[int, ...] = (brand_id,)
    elif principal is not None and principal.brand_ids is not None:
        brands = tuple(sorted(principal.brand_ids))
    else:
        brands = tuple(session.scalars(select(Brand.id).order_by(Brand.id)))
    if organization_id is not None:
        org = session.get(Organization, organization_id)
        if org is None or org.brand_id not in brands:
            raise NotFound.said("err_analytics_org_not_found")
    return Filters(start=start, end=end, brand_ids=brands, organization_id=organization_id, now=now)


def organizations(session: Session, f: Filters) -> list[Organization]:
    """The organizations of the filtered brands, by name (the dashboard's organization filter)."""
    return list(
        session.scalars(select(Organization).where(Organization.brand_id.in_(f.brand_ids)).order_by(Organization.name))
    )


def _in(col: Any, f: Filters) -> ColumnElement[bool]:
    return and_(col >= f.start, col < f.end)


def _tickets(f: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Ticket.brand_id.in_(f.brand_ids)]
    if f.organization_id is not None:
        conds.append(Ticket.organization_id == f.organization_id)
    return conds


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _num(v: Any, digits: int = 1) -> float | None:
    return round(float(v), digits) if v is not None else None


# --------------------------------------------------------------------------- tickets


def _rolled_up(session: Session, f: Filters) -> dict[tuple[int, str], int] | None:
    """Tickets created per (hour, channel) from the hourly rollups (None: filter or period they cannot serve)."""
    if f.organization_id is not None:
        return None
    return rollups.created_by_hour(session, f.brand_ids, f.start, f.end)


def volume_by_channel(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Tickets created in the period per channel (from the rollups when they cover the period)."""
    st = st if st is not None else _stats(session, f, "ch")
    hourly = _rolled_up(session, f) if st is None else None
    if st is not None:
        rows: Sequence[Any] = [(k, a.n) for (m, k), a in st.items() if m == "ch" and a.n]
    elif hourly is not None:
        counts: dict[str, int] = {}
        for (_, ch), c in hourly.items():
            counts[ch] = counts.get(ch, 0) + c
        rows = [(ch, c) for ch, c in counts.items() if c]
    else:
        n = func.count(Ticket.id)
        rows = session.execute(
            select(Ticket.channel, n).where(*_tickets(f), _in(Ticket.created_at, f)).group_by(Ticket.channel)
        ).all()
    by = {str(ch): int(c) for ch, c in sorted(rows, key=lambda r: (-int(r[1]), str(r[0])))}
    return {"total": sum(by.values()), "by_channel": by}


def daily_volume(session: Session, f: Filters, tz_offset_hours: float = 8.0) -> list[tuple[date, int]]:
    """Tickets created per local day (brand timezone offset), every day of the period present."""
    offset = tz_offset_hours * 3600
    rows: dict[int, int] | None = None
    if f.organization_id is None and float(tz_offset_hours).is_integer():
        # whole-hour offsets: a local day is 24 rolled-up UTC hours
        rows = rollups.created_by_day(session, f.brand_ids, f.start, f.end, int(tz_offset_hours))
    if rows is None:
        day = local_day(Ticket.created_at, literal(offset))
        rows = dict(
            session.execute(
                select(day.label("d"), func.count(Ticket.id))
                .where(*_tickets(f), _in(Ticket.created_at, f))
                .group_by("d")
            ).all()
        )
    first = int(((f.start - EPOCH).total_seconds() + offset) // 86400)
    last = int(((f.end - timedelta(microseconds=1) - EPOCH).total_seconds() + offset) // 86400)
    return [(date(1970, 1, 1) + timedelta(days=d), int(rows.get(d, 0))) for d in range(first, last + 1)]


def _stats(session: Session, f: Filters, *metrics: str) -> stats.Stats | None:
    """Rolled-up stats for the period (None: an organization filter, or no whole hour rolled up)."""
    if f.organization_id is not None:
        return None
    return stats.read(session, f.brand_ids, f.start, f.end, metrics, now=f.at)


def first_response(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Average / p50 / p90 seconds to first response of tickets created in the period."""
    st = st if st is not None else _stats(session, f, "frt")
    if st is not None:
        n, total = stats.count(st, "frt")
        return {
            "count": n,
            "avg": _num(total / n) if n else None,
            "p50": _num(stats.percentile(st, "frt", 50)),
            "p90": _num(stats.percentile(st, "frt", 90)),
        }
    secs = seconds_between(Ticket.created_at, Ticket.first_response_at)
    where = [*_tickets(f), _in(Ticket.created_at, f), Ticket.first_response_at.is_not(None)]
    count, avg = session.execute(select(func.count(Ticket.id), func.avg(secs)).where(*where)).one()
    pct = percentiles(session, secs, where, (50, 90)) if count else {50: None, 90: None}
    return {"count": int(count), "avg": _num(avg), "p50": _num(pct[50]), "p90": _num(pct[90])}


def resolution(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Creation-to-resolution seconds of tickets resolved in the period, bucketed, with average and percentiles."""
    st = st if st is not None else _stats(session, f, "res", "rb")
    if st is not None:
        n, total = stats.count(st, "rb")
        return {
            "count": n,
            "avg": _num(total / n) if n else None,
            "p50": _num(stats.percentile(st, "res", 50)),
            "p90": _num(stats.percentile(st, "res", 90)),
            "buckets": {key: (st[("rb", key)].n if ("rb", key) in st else 0) for key, _ in RESOLUTION_BUCKETS},
        }
    secs = seconds_between(Ticket.created_at, Ticket.resolved_at)
    whens = [(secs < limit, key) for key, limit in RESOLUTION_BUCKETS if limit is not None]
    bucket = case(*whens, else_=RESOLUTION_BUCKETS[-1][0])
    where = [*_tickets(f), _in(Ticket.resolved_at, f)]
    rows = session.execute(
        select(bucket.label("b"), func.count(Ticket.id), func.sum(secs)).where(*where).group_by("b")
    ).all()
    buckets = {key: 0 for key, _ in RESOLUTION_BUCKETS}
    total_n, total_s = 0, 0.0
    for b, n, s in rows:
        buckets[str(b)] = int(n)
        total_n += int(n)
        total_s += float(s or 0)
    pct = percentiles(session, secs, where, (50, 90)) if total_n else {50: None, 90: None}
    return {
        "count": total_n,
        "avg": _num(total_s / total_n) if total_n else None,
        "p50": _num(pct[50]),
        "p90": _num(pct[90]),
        "buckets": buckets,
    }


def agent_replies(f: Filters) -> tuple[Any, Any]:
    """Per-ticket agent reply counts (conversation messages, public updates) for tickets resolved in the period.

    Grouped subqueries joined once, instead of two correlated lookups per ticket.
    """
    in_period = select(Ticket.id).where(*_tickets(f), _in(Ticket.resolved_at, f))
    msgs = (
        select(Conversation.ticket_id.label("tid"), func.count(Message.id).label("n"))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.ticket_id.in_(in_period), Message.sender_type == "agent", Message.is_note.is_(False))
        .group_by(Conversation.ticket_id)
        .subquery()
    )
    updates = (
        select(TicketActivity.ticket_id.label("tid"), func.count(TicketActivity.id).label("n"))
        .where(
            TicketActivity.ticket_id.in_(in_period),
            TicketActivity.kind == "comment",
            TicketActivity.public.is_(True),
            TicketActivity.agent_id.is_not(None),
        )
        .group_by(TicketActivity.ticket_id)
        .subquery()
    )
    return msgs, updates


@functools.cache  # built once: the rollups' edge reads use it per range, and building it costs more than the query
def reopened_soon() -> ColumnElement[bool]:
    """A status change out of resolved/closed within FCR_REOPEN_DAYS of an earlier change into them."""
    r, s = aliased(TicketActivity), aliased(TicketActivity)
    return exists(
        select(r.id)
        .join(s, and_(s.ticket_id == r.ticket_id, s.kind == "status", s.created_at <= r.created_at))
        .where(
            r.ticket_id == Ticket.id,
            r.kind == "status",
            r.data["from"].as_string().in_(DONE),
            r.data["to"].as_string().not_in(DONE),
            s.data["to"].as_string().in_(DONE),
            seconds_between(s.created_at, r.created_at) <= FCR_REOPEN_DAYS * 86400,
        )
    )


def fcr(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """First contact resolution over tickets resolved in the period (see METRICS['fcr'])."""
    st = st if st is not None else _stats(session, f, "rb", "fcr")
    if st is not None:
        resolved, good = stats.count(st, "rb")[0], stats.count(st, "fcr")[0]
        return {"resolved": resolved, "fcr": good, "rate": _rate(good, resolved)}
    msgs, updates = agent_replies(f)
    replies = func.coalesce(msgs.c.n, 0) + func.coalesce(updates.c.n, 0)
    # reopen_count = 0 is the common case and skips the activity lookup.
    ok = and_(replies <= FCR_REPLY_LIMIT, or_(Ticket.reopen_count == 0, ~reopened_soon()))
    n, good = session.execute(
        select(func.count(Ticket.id), func.coalesce(func.sum(case((ok, 1), else_=0)), 0))
        .select_from(Ticket)
        .outerjoin(msgs, msgs.c.tid == Ticket.id)
        .outerjoin(updates, updates.c.tid == Ticket.id)
        .where(*_tickets(f), _in(Ticket.resolved_at, f))
    ).one()
    return {"resolved": int(n), "fcr": int(good), "rate": _rate(int(good), int(n))}


def backlog(session: Session, f: Filters) -> dict[str, Any]:
    """Tickets open right now, per status."""
    rows = session.execute(
        select(Ticket.status, func.count(Ticket.id))
        .where(*_tickets(f), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.status)
    ).all()
    by = {s: 0 for s in OPEN_STATUSES} | {str(s): int(n) for s, n in rows}
    return {"total": sum(by.values()), "by_status": by}


def top_issues(session: Session, f: Filters, limit: int = 10, st: stats.Stats | None = None) -> list[dict[str, Any]]:
    """The most frequent categories of tickets created in the period."""
    st = st if st is not None else _stats(session, f, "cat")
    rows: Sequence[Any]
    if st is not None:
        counted = [(None if k == stats.NONE_KEY else k, a.n) for (m, k), a in st.items() if m == "cat" and a.n]
        # Ties by category, "uncategorized" where the direct query's ORDER BY puts NULL (last on PostgreSQL).
        null_last = session.get_bind().dialect.name == "postgresql"
        rows = sorted(counted, key=lambda r: (-r[1], (r[0] is None) == null_last, r[0] or ""))[:limit]
    else:
        n = func.count(Ticket.id)
        rows = session.execute(
            select(Ticket.category, n)
            .where(*_tickets(f), _in(Ticket.created_at, f))
            .group_by(Ticket.category)
            .order_by(n.desc(), Ticket.category)
            .limit(limit)
        ).all()
    keys = [str(k) for k, _ in rows if k is not None]
    labels: dict[str, tuple[str, str]] = {}
    if keys:
        for c in session.scalars(
            select(TicketCategory)
            .where(TicketCategory.brand_id.in_(f.brand_ids), TicketCategory.key.in_(keys))
            .order_by(TicketCategory.id)
        ):
            labels.setdefault(c.key, (c.label_zh, c.label_en))
    out = []
    for key, count in rows:
        zh, en = labels.get(str(key), (str(key), str(key))) if key is not None else ("未分類", "Uncategorized")
        out.append({"category": key, "label_zh": zh, "label_en": en, "count": int(count)})
    return out


def agent_performance(session: Session, f: Filters, st: stats.Stats | None = None) -> list[dict[str, Any]]:
    """Per assignee: tickets resolved, average first response and resolution seconds, CSAT average."""
    st = st if st is not None else _stats(session, f, "agent", "agent_frt", "agent_csat", "agent_rated")
    rows: Sequence[Any]
    csat: dict[int, tuple[float | None, int]]
    if st is not None:
        csat = {}
        for (m, k), a in st.items():
            if m == "agent_csat" and a.n:
                rated = st[("agent_rated", k)].n if ("agent_rated", k) in st else 0
                csat[int(k)] = (a.total / rated if rated else None, a.n)
        per: dict[int, list[Any]] = {}
        for (m, k), a in st.items():
            if m == "agent" and a.n:
                per[int(k)] = [int(k), a.n, None, a.total / a.n]
        for (m, k), a in st.items():
            if m == "agent_frt" and a.n and int(k) in per:
                per[int(k)][2] = a.total / a.n
        rows = list(per.values())
    else:
        frt = seconds_between(Ticket.created_at, Ticket.first_response_at)
        res = seconds_between(Ticket.created_at, Ticket.resolved_at)
        rows = session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id), func.avg(frt), func.avg(res))
            .where(*_tickets(f), _in(Ticket.resolved_at, f), Ticket.assignee_id.is_not(None))
            .group_by(Ticket.assignee_id)
        ).all()
        csat_where = [
            CsatSurvey.brand_id.in_(f.brand_ids),
            _in(CsatSurvey.answered_at, f),
            CsatSurvey.agent_id.is_not(None),
        ]
        if f.organization_id is not None:
            csat_where.append(CsatSurvey.organization_id == f.organization_id)
        csat = {
            int(a): (None if avg is None else float(avg), int(n))
            for a, avg, n in session.execute(
                select(CsatSurvey.agent_id, func.avg(CsatSurvey.rating), func.count(CsatSurvey.id))
                .where(*csat_where)
                .group_by(CsatSurvey.agent_id)
            ).all()
        }
    stats: dict[int, dict[str, Any]] = {}
    for agent_id, handled, avg_frt, avg_res in rows:
        stats[int(agent_id)] = {"handled": int(handled), "avg_frt": _num(avg_frt), "avg_resolution": _num(avg_res)}
    for agent_id in csat:
        stats.setdefault(agent_id, {"handled": 0, "avg_frt": None, "avg_resolution": None})
    names = dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(stats))).all()) if stats else {}
    out = []
    for agent_id, s in stats.items():
        c_avg, c_n = csat.get(agent_id, (None, 0))
        out.append(
            {
                "agent_id": agent_id,
                "name": names.get(agent_id, str(agent_id)),
                **s,
                "csat": _num(c_avg, 2),
                "csat_count": c_n,
            }
        )
    return sorted(out, key=lambda r: (-r["handled"], r["name"]))


# --------------------------------------------------------------------------- SLA, complaints, regulator


def sla_compliance(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Share of decided SLA targets (deadline in the period) met on time, overall and per kind.

    Reads the SLA engine's `ticket_sla_targets` table (maintained by kefu.sla).
    """
    st = st if st is not None else _stats(session, f, "sla")
    if st is not None:
        kinds = {k: a for (m, k), a in st.items() if m == "sla" and a.n}
        by = {k: {"decided": a.n, "met": int(a.total), "rate": _rate(int(a.total), a.n)} for k, a in kinds.items()}
        total_n, met_n = sum(a.n for a in kinds.values()), sum(int(a.total) for a in kinds.values())
        return {"decided": total_n, "met": met_n, "rate": _rate(met_n, total_n), "by_kind": dict(sorted(by.items()))}
    t = TicketSlaTarget
    on_time = and_(t.met_at.is_not(None), t.met_at <= t.due_at)
    stmt = (
        select(t.kind, func.count(t.id), func.coalesce(func.sum(case((on_time, 1), else_=0)), 0))
        .where(
            t.brand_id.in_(f.brand_ids),
            t.due_at.is_not(None),
            _in(t.due_at, f),
            t.status != "paused",
            or_(t.met_at.is_not(None), t.due_at <= f.at),
        )
        .group_by(t.kind)
    )
    if f.organization_id is not None:
        stmt = stmt.join(Ticket, Ticket.id == t.ticket_id).where(Ticket.organization_id == f.organization_id)
    by_kind: dict[str, dict[str, Any]] = {}
    total = met = 0
    for kind, n, m in session.execute(stmt).all():
        by_kind[str(kind)] = {"decided": int(n), "met": int(m), "rate": _rate(int(m), int(n))}
        total += int(n)
        met += int(m)
    return {"decided": total, "met": met, "rate": _rate(met, total), "by_kind": dict(sorted(by_kind.items()))}


def complaints(
    session: Session, f: Filters, tickets_created: int | None = None, st: stats.Stats | None = None
) -> dict[str, Any]:
    """Complaint rate (per ticket created) and the share closed within 24 h of receipt."""
    st = st if st is not None else _stats(session, f, "cmp")
    if st is not None:
        acc = st.get(("cmp", ""), stats.Acc())
        received, closed = acc.n, int(acc.total)
    else:
        received, closed = _complaints_direct(session, f)
    if tickets_created is None:
        tickets_created = int(volume_by_channel(session, f)["total"])
    return {
        "received": received,
        "tickets": tickets_created,
        "rate": _rate(received, tickets_created),
        "closed_24h": closed,
        "closure_24h_rate": _rate(closed, received),
    }


def _complaints_direct(session: Session, f: Filters) -> tuple[int, int]:
    fast = and_(
        Complaint.closed_at.is_not(None),
        seconds_between(Complaint.received_at, Complaint.closed_at) <= COMPLAINT_CLOSURE_HOURS * 3600,
    )
    stmt = select(func.count(Complaint.id), func.coalesce(func.sum(case((fast, 1), else_=0)), 0)).where(
        Complaint.brand_id.in_(f.brand_ids), _in(Complaint.received_at, f)
    )
    if f.organization_id is not None:
        stmt = stmt.join(Ticket, Ticket.id == Complaint.ticket_id).where(Ticket.organization_id == f.organization_id)
    received, closed = (int(v) for v in session.execute(stmt).one())
    return received, closed


def regulator_on_time(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Regulator cases received in the period: decided ones replied by their due date."""
    r = RegulatorCase
    st = st if st is not None else _stats(session, f, "reg")
    if st is not None:
        received, replied = st.get(("reg", ""), stats.Acc()).n, st.get(("reg", "ans"), stats.Acc())
        # Unanswered cases past their due date are decided (missed) as the clock passes it: counted from the
        # rows, in the small partial index of unanswered cases.
        overdue = session.scalar(
            select(func.count(r.id)).where(
                r.brand_id.in_(f.brand_ids),
                _in(r.received_at, f),
                r.replied_at.is_(None),
                r.closed_at.is_(None),
                r.due_at <= f.at,
            )
        )
        decided, ok = replied.n + int(overdue or 0), int(replied.total)
        return {"received": received, "decided": decided, "on_time": ok, "rate": _rate(ok, decided)}
    answered = func.coalesce(r.replied_at, r.closed_at)
    on_time = and_(answered.is_not(None), answered <= r.due_at)
    stmt = select(func.count(r.id), func.coalesce(func.sum(case((on_time, 1), else_=0)), 0)).where(
        r.brand_id.in_(f.brand_ids), _in(r.received_at, f), or_(answered.is_not(None), r.due_at <= f.at)
    )
    if f.organization_id is not None:
        stmt = stmt.join(Ticket, Ticket.id == r.ticket_id).where(Ticket.organization_id == f.organization_id)
    decided, ok = (int(v) for v in session.execute(stmt).one())
    received_stmt = select(func.count(r.id)).where(r.brand_id.in_(f.brand_ids), _in(r.received_at, f))
    if f.organization_id is not None:
        received_stmt = received_stmt.join(Ticket, Ticket.id == r.ticket_id).where(
            Ticket.organization_id == f.organization_id
        )
    received = int(session.scalar(received_stmt) or 0)
    return {"received": received, "decided": decided, "on_time": ok, "rate": _rate(ok, decided)}


# --------------------------------------------------------------------------- CSAT, bot, QA


def csat(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Surveys sent in the period: responses, average stars, satisfied share and distribution."""
    st = st if st is not None else _stats(session, f, "csat")
    rows: Sequence[Any]
    if st is not None:
        rows = [(None if k == stats.NONE_KEY else int(k), a.n) for (m, k), a in st.items() if m == "csat" and a.n]
    else:
        where = [CsatSurvey.brand_id.in_(f.brand_ids), _in(CsatSurvey.sent_at, f)]
        if f.organization_id is not None:
            where.append(CsatSurvey.organization_id == f.organization_id)
        rows = session.execute(
            select(CsatSurvey.rating, func.count(CsatSurvey.id)).where(*where).group_by(CsatSurvey.rating)
        ).all()
    dist = {str(i): 0 for i in range(1, 6)}
    sent = 0
    for rating, n in rows:
        sent += int(n)
        if rating is not None:
            dist[str(int(rating))] = int(n)
    answered = sum(dist.values())
    stars = sum(int(k) * v for k, v in dist.items())
    satisfied = dist["4"] + dist["5"]
    return {
        "sent": sent,
        "answered": answered,
        "response_rate": _rate(answered, sent),
        "average": round(stars / answered, 2) if answered else None,
        "satisfied_share": _rate(satisfied, answered),
        "distribution": dist,
    }


@functools.cache  # built once, as reopened_soon
def bot_rules() -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the bot replied, the conversation was contained) for a `conversations` row joined to its bot state."""
    c, c2 = Conversation, aliased(Conversation)
    # A survey invitation or a service notice is sent under the bot's name but answers nothing: a conversation
    # whose only bot message is one (every human-handled chat that got a CSAT invite) was not handled by the bot.
    not_announcement = [Message.meta[key].as_string().is_(None) for key in ANNOUNCEMENT_KEYS]
    bot_replied = exists(
        select(Message.id).where(
            Message.conversation_id == c.id, Message.sender_type == "bot", Message.is_note.is_(False), *not_announcement
        )
    )
    recontact = exists(
        select(c2.id).where(
            c2.customer_id == c.customer_id,
            c2.id != c.id,
            c2.created_at > c.created_at,
            seconds_between(c.last_message_at, c2.created_at) <= BOT_RECONTACT_HOURS * 3600,
        )
    )
    contained = and_(
        BotState.handed_off_at.is_(None), c.ticket_id.is_(None), c.status.in_(("bot", "closed")), ~recontact
    )
    return bot_replied, contained


def bot_containment(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """Bot-handled conversations created in the period that never needed a human (see METRICS)."""
    st = st if st is not None else _stats(session, f, "bot")
    if st is not None:
        handled, ok = stats.count(st, "bot")
        return {"handled": handled, "contained": int(ok), "rate": _rate(int(ok), handled)}
    c = Conversation
    bot_replied, contained = bot_rules()
    stmt = (
        select(func.count(c.id), func.coalesce(func.sum(case((contained, 1), else_=0)), 0))
        .select_from(c)
        .outerjoin(BotState, BotState.conversation_id == c.id)
        .where(c.brand_id.in_(f.brand_ids), _in(c.created_at, f), bot_replied)
    )
    if f.organization_id is not None:
        stmt = stmt.join(Customer, Customer.id == c.customer_id).where(Customer.organization_id == f.organization_id)
    handled, ok = (int(v) for v in session.execute(stmt).one())
    return {"handled": handled, "contained": ok, "rate": _rate(ok, handled)}


def qa_correctness(session: Session, f: Filters, st: stats.Stats | None = None) -> dict[str, Any]:
    """QA reviews completed in the period: accuracy pass share and overall pass share."""
    st = st if st is not None else _stats(session, f, "qa")
    if st is not None:
        scored = st.get(("qa", "scored"), stats.Acc())
        n, a, p = (st.get(("qa", k), stats.Acc()).n for k in ("", "acc", "pass"))
        return {
            "reviewed": n,
            "accuracy_passed": a,
            "rate": _rate(a, n),
            "passed": p,
            "pass_rate": _rate(p, n),
            "avg_total": _num(scored.total / scored.n) if scored.n else None,
        }
    acc = func.coalesce(func.sum(case((QaReview.accuracy_passed.is_(True), 1), else_=0)), 0)
    passed = func.coalesce(func.sum(case((QaReview.passed.is_(True), 1), else_=0)), 0)
    stmt = select(func.count(QaReview.id), acc, passed, func.avg(QaReview.total)).where(
        QaReview.brand_id.in_(f.brand_ids), QaReview.status == "done", _in(QaReview.reviewed_at, f)
    )
    if f.organization_id is not None:
        stmt = (
            stmt.join(Conversation, Conversation.id == QaReview.conversation_id)
            .join(Customer, Customer.id == Conversation.customer_id)
            .where(Customer.organization_id == f.organization_id)
        )
    n, a, p, avg = session.execute(stmt).one()
    return {
        "reviewed": int(n),
        "accuracy_passed": int(a),
        "rate": _rate(int(a), int(n)),
        "passed": int(p),
        "pass_rate": _rate(int(p), int(n)),
        "avg_total": _num(avg),
    }


# --------------------------------------------------------------------------- everything


def dashboard(session: Session, f: Filters) -> dict[str, Any]:
    """Every metric for one filter set (the rolled-up ones from one read of the rollups)."""
    mark = stats.complete_until(session)
    if mark is not None and rollups.hour_of(f.at) >= mark:
        # The usual case (the job marks up to the current hour): the SLA's rolled-up hours end at the same mark
        # as the others', so one read serves every metric.
        st = sla = _stats(session, f, *stats.METRIC_BASIS)
    else:
        st = _stats(session, f, *(m for m in stats.METRIC_BASIS if m != "sla"))
        sla = _stats(session, f, "sla")  # read separately: its rolled-up hours end at `now`
    volume = volume_by_channel(session, f, st)
    return {
        "period": {"start": f.start.isoformat(), "end": f.end.isoformat()},
        "brand_ids": list(f.brand_ids),
        "organization_id": f.organization_id,
        "volume_by_channel": volume,
        "first_response_time": first_response(session, f, st),
        "resolution_time": resolution(session, f, st),
        "fcr": fcr(session, f, st),
        "sla_compliance": sla_compliance(session, f, sla),
        "csat": csat(session, f, st),
        "bot_containment": bot_containment(session, f, st),
        "complaints": complaints(session, f, tickets_created=int(volume["total"]), st=st),
        "regulator_on_time": regulator_on_time(session, f, st),
        "top_issues": top_issues(session, f, st=st),
        "agent_performance": agent_performance(session, f, st),
        "backlog": backlog(session, f),
        "qa_correctness": qa_correctness(session, f, st),
    }
