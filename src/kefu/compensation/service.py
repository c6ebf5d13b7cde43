"""The compensation ledger: proposals from breached SLA targets and outage notices, review by a team lead.

Seed 003 (用户权益保障体系 › 补偿机制) promises 漏误处理：补偿双倍服务时长 and 系统故障：按影响时长折算补偿. Read as:
a case handled late or wrongly owes the customer twice the service time it cost them — for a breached SLA target
(first response, status update, resolution) the time from its due moment until it was met (``sla_factor``, default
2); a system outage owes the affected customers its duration (``outage_factor``, default 1). The credit is in the
brand's unit (``settings["compensation"]["unit"]``: minutes, hours or days of service, default minutes), rounded up
in the customer's favour.

Proposals are idempotent (one per ticket and SLA target, one per customer and outage notice). A lead approves or
rejects a proposal (a rejection needs a reason) and marks approved ones granted; every step is audited.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, literal, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.compensation.models import Compensation, CompensationReason, CompensationStatus, CompensationUnit
from kefu.core.access import ensure_brand, get_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.pagination import keyset_page
from kefu.customers.models import Customer
from kefu.notices.models import CustomerNotice, NoticeBroadcast
from kefu.sla.labels import target_name
from kefu.sla.models import TicketSlaTarget
from kefu.tickets.models import Ticket

REASONS = tuple(r.value for r in CompensationReason)
STATUSES = tuple(s.value for s in CompensationStatus)
_MINUTES_IN = {CompensationUnit.MINUTES: 1, CompensationUnit.HOURS: 60, CompensationUnit.DAYS: 1440}
UNITS = {u.value: _MINUTES_IN[u] for u in CompensationUnit}  # a unit without its minutes fails at import
DEFAULTS: dict[str, Any] = {"unit": "minutes", "sla_factor": 2, "outage_factor": 1}
# Targets whose lateness the customer lives through; a late CSAT survey or an internal milestone costs them no service.
COMPENSATED_KINDS = ("first_response", "next_update", "resolution")
MAX_FACTOR = 10
MAX_BASIS = 366 * 1440  # a year of lost service is the most one entry can claim


@dataclass(frozen=True)
class Rules:
    """A brand's compensation rules."""

    unit: str = "minutes"
    sla_factor: float = 2.0
    outage_factor: float = 1.0


def check_settings(value: object) -> dict[str, Any]:
    """Validate ``settings["compensation"]``: ``unit`` (minutes/hours/days), ``sla_factor``/``outage_factor`` (0–10)."""
    if not isinstance(value, dict) or set(value) - set(DEFAULTS):
        raise InvalidInput.said("err_compensation_settings_keys", choices=sorted(DEFAULTS))
    if "unit" in value and value["unit"] not in UNITS:
        raise InvalidInput.said("err_compensation_unit_choice", choices=sorted(UNITS))
    for key in ("sla_factor", "outage_factor"):
        number = value.get(key, 1)
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number <= MAX_FACTOR:
            raise InvalidInput.said("err_compensation_factor_range", key=key, max_factor=MAX_FACTOR)
    return dict(value)


def rules_of(brand: Brand | None) -> Rules:
    """The brand's rules, defaults where unset or invalid (settings are validated on write)."""
    conf = ((brand.settings or {}) if brand else {}).get("compensation") or {}
    try:
        conf = check_settings({k: v for k, v in conf.items() if k in DEFAULTS})
    except InvalidInput:
        conf = {}
    merged = {**DEFAULTS, **conf}
    return Rules(str(merged["unit"]), float(merged["sla_factor"]), float(merged["outage_factor"]))


def amount_for(basis_minutes: int, factor: float, unit: str) -> int:
    """Credit for `basis_minutes` of lost service at `factor`, in whole `unit`s rounded up."""
    return math.ceil(basis_minutes * factor / UNITS[unit] - 1e-9)


def _basis(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BASIS:
        raise InvalidInput.said("err_compensation_basis_range", max_basis=MAX_BASIS)
    return value


def _new(
    session: Session,
    brand: Brand,
    *,
    customer_id: int,
    reason: str,
    basis_minutes: int,
    factor: float,
    actor: Principal | None,
    ticket_id: int | None = None,
    broadcast_id: int | None = None,
    source_key: str | None = None,
    note: str = "",
) -> Compensation:
    unit = rules_of(brand).unit
    row = Compensation(
        brand_id=brand.id,
        customer_id=customer_id,
        ticket_id=ticket_id,
        broadcast_id=broadcast_id,
        reason=reason,
        source_key=source_key,
        basis_minutes=basis_minutes,
        factor=factor,
        amount=amount_for(basis_minutes, factor, unit),
        unit=unit,
        status="proposed",
        note=note[:500],
        decision_note="",
        created_by=actor.agent_id if actor else None,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "compensation.propose",
        target_type="compensation",
        target_id=row.id,
        brand_id=brand.id,
        details={"reason": reason, "basis_minutes": basis_minutes, "amount": row.amount, "unit": unit},
        **({} if actor else {"actor_type": "system", "actor_label": "compensation"}),
    )
    return row


def propose_for_sla_breaches(session: Session, *, limit: int = 500) -> list[Compensation]:
    """One proposal per breached SLA target once it is met: twice the overrun (due → met), per the brand's rules."""
    key = literal("sla:") + cast(TicketSlaTarget.ticket_id, String) + ":" + TicketSlaTarget.key
    taken = select(Compensation.id).where(Compensation.source_key == key).exists()
    rows = session.execute(
        select(TicketSlaTarget, Ticket.customer_id)
        .join(Ticket, Ticket.id == TicketSlaTarget.ticket_id)
        .where(
            TicketSlaTarget.breached_at.is_not(None),
            TicketSlaTarget.kind.in_(COMPENSATED_KINDS),
            TicketSlaTarget.met_at.is_not(None),
            TicketSlaTarget.due_at.is_not(None),
            Ticket.customer_id.is_not(None),
            ~taken,
        )
        .order_by(TicketSlaTarget.id)
        .limit(limit)
    ).all()
    brands: dict[int, Brand | None] = {}
    out = []
    for target, customer_id in rows:
        assert target.met_at is not None and target.due_at is not None
        overrun = math.ceil((target.met_at - target.due_at).total_seconds() / 60)
        if overrun <= 0 or customer_id is None:
            continue  # met by its deadline after all (a deadline moved later)
        brand = brands.setdefault(target.brand_id, session.get(Brand, target.brand_id))
        if brand is None:
            continue
        out.append(
            _new(
                session,
                brand,
                customer_id=customer_id,
                reason="sla_breach",
                basis_minutes=min(overrun, MAX_BASIS),
                factor=rules_of(brand).sla_factor,
                actor=None,
                ticket_id=target.ticket_id,
                source_key=f"sla:{target.ticket_id}:{target.key}",
                note=target_name(target.kind, target.key, brand.default_locale),  # stored: the brand's language
            )
        )
    return out


_TARGET_KINDS = frozenset({"first_response", "next_update", "resolution", "csat_survey"})


def note_text(row: Compensation, locale: str) -> str:
    """The row's note for a reader: a missed SLA target is named in the reader's language (stored in the brand's)."""
    parts = (row.source_key or "").split(":")
    if row.reason == "sla_breach" and len(parts) == 3 and parts[0] == "sla" and parts[2]:
        key = parts[2]
        return target_name(key if key in _TARGET_KINDS else "milestone", key, locale)
    return row.note


def outage_minutes_of(broadcast: NoticeBroadcast) -> int | None:
    """The outage's length from the notice's time window (``since``–``until``), when it has both ends."""
    audience = broadcast.audience or {}
    try:
        since = datetime.fromisoformat(str(audience["since"]))
        until = datetime.fromisoformat(str(audience["until"]))
    except (KeyError, ValueError, TypeError):
        return None
    minutes = math.ceil((until - since).total_seconds() / 60)
    return minutes if minutes > 0 else None


def outage_notice(session: Session, broadcast_id: int, actor: Principal | None) -> NoticeBroadcast:
    """An outage notice the actor's brands may see (404 across brands)."""
    return get_in_brand(session, NoticeBroadcast, broadcast_id, actor, "Outage notice")


def propose_for_outage(
    session: Session, broadcast_id: int, actor: Principal | None, outage_minutes: int | None = None
) -> list[Compensation]:
    """One proposal per customer the outage notice was addressed to (idempotent): its length × outage_factor."""
    broadcast = outage_notice(session, broadcast_id, actor)
    if broadcast.kind != "outage":
        raise InvalidInput.said("err_compensation_outage_only")
    minutes = outage_minutes if outage_minutes is not None else outage_minutes_of(broadcast)
    if minutes is None:
        raise InvalidInput.said("err_compensation_needs_minutes")
    minutes = _basis(minutes)
    brand = session.get(Brand, broadcast.brand_id)
    assert brand is not None
    customers = session.scalars(
        select(CustomerNotice.customer_id)
        .where(CustomerNotice.broadcast_id == broadcast.id, CustomerNotice.customer_id.is_not(None))
        .distinct()
    )
    keys = {f"outage:{broadcast.id}:{c}": int(c) for c in customers if c is not None}
    have = set(session.scalars(select(Compensation.source_key).where(Compensation.source_key.in_(list(keys)))))
    factor = rules_of(brand).outage_factor
    return [
        _new(
            session,
            brand,
            customer_id=customer_id,
            reason="outage",
            basis_minutes=minutes,
            factor=factor,
            actor=actor,
            broadcast_id=broadcast.id,
            source_key=key,
            note=broadcast.title,
        )
        for key, customer_id in sorted(keys.items(), key=lambda kv: kv[1])
        if key not in have
    ]


def propose_manual(
    session: Session,
    actor: Principal,
    *,
    customer_id: int,
    basis_minutes: object,
    note: str,
    ticket_id: int | None = None,
) -> Compensation:
    """A handling error a lead found (wrong answer, lost request): twice the service time it cost, like a breach."""
    customer = get_in_brand(session, Customer, customer_id, actor, "Customer")
    if ticket_id is not None:
        ticket = get_in_brand(session, Ticket, ticket_id, actor, "Ticket")
        if ticket.customer_id != customer.id:
            raise InvalidInput.said("err_compensation_other_customer")
    if not note.strip():
        raise InvalidInput.said("err_compensation_needs_reason")
    brand = session.get(Brand, customer.brand_id)
    assert brand is not None
    return _new(
        session,
        brand,
        customer_id=customer.id,
        reason="handling_error",
        basis_minutes=_basis(basis_minutes),
        factor=rules_of(brand).sla_factor,
        actor=actor,
        ticket_id=ticket_id,
        note=note.strip(),
    )


def get(session: Session, compensation_id: int, actor: Principal | None) -> Compensation:
    """One entry the actor's brands may see (404 across brands)."""
    return get_in_brand(session, Compensation, compensation_id, actor, "Compensation")


_MOVES = {
    "approve": ({"proposed"}, "approved"),
    "grant": ({"approved"}, "granted"),
    "reject": ({"proposed", "approved"}, "rejected"),
}


def decide(session: Session, compensation_id: int, action: str, actor: Principal, note: str = "") -> Compensation:
    """Approve, grant or reject (with a reason) an entry; a decided entry cannot move back."""
    row = get(session, compensation_id, actor)
    if action not in _MOVES:
        raise InvalidInput.said("err_compensation_action_choice", choices=sorted(_MOVES))
    sources, target = _MOVES[action]
    if row.status not in sources:
        raise Conflict.said("err_compensation_bad_transition", status=row.status, target=target)
    note = note.strip()
    if action == "reject" and not note:
        raise InvalidInput.said("err_compensation_needs_reject_reason")
    row.status = target
    if action == "approve":
        row.approved_by = actor.agent_id
    row.decided_by, row.decided_at = actor.agent_id, utcnow()
    if note:
        row.decision_note = note[:500]
    session.flush()
    record(
        session,
        actor,
        f"compensation.{action}",
        target_type="compensation",
        target_id=row.id,
        brand_id=row.brand_id,
        details={"status": target, "amount": row.amount, "unit": row.unit},
    )
    return row


def _filtered(
    actor: Principal | None,
    *,
    brand_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
) -> Select[Any]:
    if status is not None and status not in STATUSES:
        raise InvalidInput.said("err_compensation_status_choice", choices=list(STATUSES))
    stmt = scope_to_brands(select(Compensation), Compensation.brand_id, actor)
    if brand_id is not None:
        ensure_brand(actor, brand_id, "Brand")
        stmt = stmt.where(Compensation.brand_id == brand_id)
    for col, value in ((Compensation.status, status), (Compensation.customer_id, customer_id)):
        if value is not None:
            stmt = stmt.where(col == value)
    if ticket_id is not None:
        stmt = stmt.where(Compensation.ticket_id == ticket_id)
    return stmt


def list_page(
    session: Session,
    actor: Principal | None,
    *,
    limit: int = 50,
    cursor: str | None = None,
    brand_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
) -> tuple[list[Compensation], str | None]:
    """Entries newest first, one keyset page."""
    stmt = _filtered(actor, brand_id=brand_id, status=status, customer_id=customer_id, ticket_id=ticket_id)
    return keyset_page(session, stmt, Compensation.created_at, Compensation.id, limit=limit, cursor=cursor)


def totals(
    session: Session,
    actor: Principal | None,
    *,
    brand_id: int | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
) -> list[tuple[str, str, int, int]]:
    """(status, unit, entries, amount) over the filtered entries, in status order."""
    inner = _filtered(actor, brand_id=brand_id, customer_id=customer_id, ticket_id=ticket_id).subquery()
    rows = session.execute(
        select(inner.c.status, inner.c.unit, func.count(), func.coalesce(func.sum(inner.c.amount), 0)).group_by(
            inner.c.status, inner.c.unit
        )
    ).all()
    order = {s: i for i, s in enumerate(STATUSES)}
    return sorted(((str(s), str(u), int(n), int(a)) for s, u, n, a in rows), key=lambda r: (order[r[0]], r[1]))


def customer_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Display names of the listed customers (for the review page)."""
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(set(ids))))
    return {int(i): str(n or f"#{i}") for i, n in rows}
