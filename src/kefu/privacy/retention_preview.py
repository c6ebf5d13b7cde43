"""Retention dry run: what `kefu privacy retention` would de-identify, and why, without changing anything.

The candidates are chosen by the same rules as ``kefu.privacy.service.deidentify_batch`` (closed conversations whose
last message, closed tickets whose closing, and dormant customers whose creation and every conversation/ticket are
older than the brand's retention period, and not de-identified yet); a test runs the real sweep after the preview and
checks both select the same records. Brands whose period is below the 5 years the seed promises (依法規保存 5 年以上)
are flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from kefu.brands.models import Brand
from kefu.conversations.models import Conversation
from kefu.customers.models import Customer
from kefu.privacy.models import DeidentifiedRecord
from kefu.privacy.service import _cutoff, retention_years
from kefu.tickets.models import Ticket

PROMISED_MINIMUM_YEARS = 5
CHUNK = 1000


@dataclass(frozen=True)
class Candidate:
    """One record the retention run would de-identify."""

    brand_id: int
    kind: str  # conversation | ticket | customer
    record_id: int
    label: str
    last_activity: datetime
    reason: str


@dataclass
class BrandPreview:
    """A brand's retention setting and how many records each kind would lose their personal data."""

    brand_id: int
    years: int | None
    cutoff: datetime | None
    counts: dict[str, int] = field(default_factory=lambda: {"conversation": 0, "ticket": 0, "customer": 0})
    warnings: list[str] = field(default_factory=list)


def _not_done(kind: str, col: Any) -> Any:
    return col.not_in(select(DeidentifiedRecord.record_id).where(DeidentifiedRecord.kind == kind))


def _chunks(session: Session, stmt: Select[int, str, datetime], id_col: Any) -> Iterator[tuple[int, str, datetime]]:
    last = 0
    while True:
        rows = session.execute(stmt.where(id_col > last).order_by(id_col).limit(CHUNK)).all()
        yield from ((int(i), str(label or ""), at) for i, label, at in rows)
        if len(rows) < CHUNK:
            return
        last = int(rows[-1][0])


def preview_brand(session: Session, brand: Brand, as_of: datetime) -> tuple[BrandPreview, Iterator[Candidate]]:
    """The brand's setting, warnings, and (lazily, in id order) every record a run at `as_of` would de-identify."""
    years = retention_years(session, brand.id)
    summary = BrandPreview(brand_id=brand.id, years=years, cutoff=_cutoff(years, as_of) if years else None)
    if years is None:
        summary.warnings.append("retention disabled: nothing is de-identified")
    elif years < PROMISED_MINIMUM_YEARS:
        summary.warnings.append(f"retention is {years} years, below the {PROMISED_MINIMUM_YEARS}-year minimum promised")
    return summary, _candidates(session, brand.id, years, summary)


def _candidates(session: Session, brand_id: int, years: int | None, summary: BrandPreview) -> Iterator[Candidate]:
    if years is None or summary.cutoff is None:
        return
    cutoff = summary.cutoff
    why = f"older than the {years}-year retention period (cut-off {cutoff:%Y-%m-%d})"
    conv = (
        select(Conversation.id, Conversation.channel, Conversation.last_message_at)
        .where(
            Conversation.brand_id == brand_id, Conversation.status == "closed", Conversation.last_message_at < cutoff
        )
        .where(_not_done("conversation", Conversation.id))
    )
    for rid, channel, at in _chunks(session, conv, Conversation.id):
        summary.counts["conversation"] += 1
        # Subjects and names are personal data: the preview names records by id, number and channel only.
        yield Candidate(
            brand_id,
            "conversation",
            rid,
            f"{channel} conversation #{rid}",
            at,
            f"closed conversation, last message {at:%Y-%m-%d}, {why}",
        )
    closed_at = func.coalesce(Ticket.closed_at, Ticket.updated_at)
    tickets = (
        select(Ticket.id, Ticket.number, closed_at)
        .where(Ticket.brand_id == brand_id, Ticket.status == "closed", closed_at < cutoff)
        .where(_not_done("ticket", Ticket.id))
    )
    for rid, label, at in _chunks(session, tickets, Ticket.id):
        summary.counts["ticket"] += 1
        yield Candidate(brand_id, "ticket", rid, label, at, f"closed ticket, closed {at:%Y-%m-%d}, {why}")
    recent_conv = select(Conversation.customer_id).where(
        or_(Conversation.last_message_at >= cutoff, Conversation.status != "closed")
    )
    recent_ticket = select(Ticket.customer_id).where(
        Ticket.customer_id.is_not(None), or_(Ticket.updated_at >= cutoff, Ticket.status != "closed")
    )
    customers = (
        select(Customer.id, Customer.name, Customer.created_at)
        .where(
            Customer.brand_id == brand_id,
            Customer.created_at < cutoff,
            Customer.id.not_in(recent_conv),
            Customer.id.not_in(recent_ticket),
        )
        .where(_not_done("customer", Customer.id))
    )
    for rid, _name, at in _chunks(session, customers, Customer.id):
        summary.counts["customer"] += 1
        yield Candidate(
            brand_id,
            "customer",
            rid,
            f"customer #{rid}",
            at,
            f"dormant customer (created {at:%Y-%m-%d}, nothing open or newer than the cut-off), {why}",
        )
