"""Customer self-service progress query: ticket number + a contact that must match the ticket's customer.

Every failure (unknown number, wrong contact, no customer on the ticket) answers the same 404, and failures are
rate limited across processes (rows in `progress_query_attempts`) per client address and per (number, address): an
attacker spends only their own budget, so guessing stays throttled but nobody can lock a real customer out of their
own ticket by failing on its number.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from kefu.core import catalog
from kefu.core.db import utcnow
from kefu.core.errors import NotFound
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.customers.models import Customer
from kefu.tickets.models import ProgressQueryAttempt, Ticket, TicketActivity

MAX_FAILURES_PER_IP = 10
MAX_PER_NUMBER_AND_IP = 5  # failures on one number from one address
WINDOW = timedelta(minutes=15)
NO_MATCH = "No ticket matches this number and contact. / 查無符合此案件編號與聯絡方式的案件。"


def status_labels(status: str) -> dict[str, str]:
    """A ticket status as the customer reads it, per locale (the catalogs' progress_* entries)."""
    return {loc: catalog.table(loc).get(f"progress_{status}", status) for loc in catalog.LOCALES}


_DIGITS = re.compile(r"\D+")


def _phone_key(value: str) -> str | None:
    digits = _DIGITS.sub("", value)
    if digits.startswith("886"):
        digits = "0" + digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    # Why: compare national significant digits so "+886 912-345-678" equals "0912345678".
    return digits.lstrip("0")[-9:] if len(digits) >= 8 else None


def contact_matches(customer: Customer, contact: str) -> bool:
    """True when `contact` is the customer's email (case-insensitive) or phone (format-insensitive)."""
    contact = contact.strip()
    if "@" in contact:
        return bool(customer.email) and hmac.compare_digest(
            contact.casefold().encode(), (customer.email or "").strip().casefold().encode()
        )
    given, stored = _phone_key(contact), _phone_key(customer.phone or "")
    return given is not None and stored is not None and hmac.compare_digest(given.encode(), stored.encode())


_SPACE = re.compile(r"\s+")


def normalize_number(number: str) -> str:
    """A typed ticket number as stored: full-width folded (NFKC), spaces dropped, upper case, at most 32 chars."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", number)).upper()[:32]


def client_key(ip: str) -> str:
    """Whose budget a lookup spends: the address, or for IPv6 its /64 (one subscriber holds all 2^64 of them)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]  # not an address (e.g. "bot"): as given
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def check_rate_limit(session: Session, ip: str, number: str, now: datetime) -> None:
    """429 once too many recent failures came from this address, or from it on this ticket number."""
    failures = WindowLimit(ProgressQueryAttempt.at, WINDOW, (ProgressQueryAttempt.success.is_(False),))
    ip = client_key(ip)
    # No budget keyed by the number alone: that would let anyone lock a customer out of their ticket.
    budgets = [
        Budget(ProgressQueryAttempt.ip == ip, MAX_FAILURES_PER_IP),
        Budget(and_(ProgressQueryAttempt.number == number, ProgressQueryAttempt.ip == ip), MAX_PER_NUMBER_AND_IP),
    ]
    failures.enforce(session, budgets, "err_tickets_too_many_attempts", now=now)


def customer_progress(
    session: Session,
    number: str,
    contact: str,
    *,
    ip: str,
    now: datetime | None = None,
    brand_id: int | None = None,
) -> dict[str, Any]:
    """The customer-safe view of a ticket, if `contact` matches its customer (for the API and the bot)."""
    return progress_view(session, verified_ticket(session, number, contact, ip=ip, now=now, brand_id=brand_id))


def verified_ticket(
    session: Session,
    number: str,
    contact: str,
    *,
    ip: str,
    now: datetime | None = None,
    brand_id: int | None = None,
) -> Ticket:
    """The ticket `number` names, if `contact` matches its customer (rate limited; every failure the same 404).

    `brand_id` restricts the lookup to one brand (the portal of that brand): brands may share a ticket prefix.
    """
    now = now or utcnow()
    number = normalize_number(number)
    check_rate_limit(session, ip, number, now)
    stmt = select(Ticket).where(Ticket.number == number)
    if brand_id is not None:
        stmt = stmt.where(Ticket.brand_id == brand_id)
    ticket = session.scalar(stmt)
    customer = session.get(Customer, ticket.customer_id) if ticket and ticket.customer_id else None
    ok = customer is not None and contact_matches(customer, contact)
    session.add(ProgressQueryAttempt(ip=client_key(ip), number=number, success=ok, at=now))
    session.flush()
    if not ok or ticket is None:
        raise NotFound(NO_MATCH)
    return ticket


def _surviving_customer(session: Session, customer_id: int | None) -> int | None:
    """The customer record `customer_id` was merged into, following merges (None for no customer)."""
    seen: set[int] = set()
    while customer_id is not None and customer_id not in seen:
        seen.add(customer_id)
        customer = session.get(Customer, customer_id)
        if customer is None or customer.merged_into_id is None:
            break
        customer_id = customer.merged_into_id
    return customer_id


def merge_note(session: Session, source: Ticket, target: Ticket) -> dict[str, str]:
    """The customer-visible note on a merged duplicate, per locale: the survivor's number only if it is theirs."""
    same = _same_owner(session, source, target)
    key = "progress_merged_into" if same else "progress_merged_elsewhere"
    return {loc: catalog.table(loc)[key].format(number=target.number) for loc in catalog.LOCALES}


def merge_note_text(note: dict[str, str]) -> str:
    """The note as one stored/sent string (zh-TW and English, as the other public system notes)."""
    return f"{note['zh-TW']} / {note['en']}"


def _same_owner(session: Session, source: Ticket, target: Ticket) -> bool:
    owner = _surviving_customer(session, source.customer_id)
    return owner is not None and owner == _surviving_customer(session, target.customer_id)


def progress_view(session: Session, ticket: Ticket) -> dict[str, Any]:
    """Status, dates and the latest public update — never internal notes, assignees or teams."""
    from kefu.tickets.service import category_labels

    shown = ticket
    merged_into = None
    if ticket.merged_into_id is not None:
        target = session.get(Ticket, ticket.merged_into_id)
        # Agents may merge a duplicate into another customer's ticket: its customer then sees only their own
        # (closed) ticket, never the survivor's number, subject or public updates.
        if target is not None and _same_owner(session, ticket, target):
            merged_into, shown = target.number, target
    last = session.scalar(
        select(TicketActivity)
        .where(TicketActivity.ticket_id == shown.id, TicketActivity.public.is_(True))
        .order_by(TicketActivity.id.desc())
        .limit(1)
    )
    return {
        "number": ticket.number,
        "merged_into": merged_into,
        "subject": shown.subject,
        "status": shown.status,
        "status_label": status_labels(shown.status),
        "category": shown.category,
        "category_label": category_labels(session, shown.brand_id, shown.category),
        "created_at": shown.created_at,
        "updated_at": shown.updated_at,
        "resolved_at": shown.resolved_at,
        "closed_at": shown.closed_at,
        "last_update": _public_update(session, last),
        "can_confirm": shown.status == "resolved",
    }


def _public_update(session: Session, last: TicketActivity | None) -> dict[str, Any] | None:
    if last is None:
        return None
    if last.kind == "merge" and isinstance(last.data.get("into"), int):
        # Rendered now, not from the stored text: who owns which ticket can change after the merge (and notes
        # written before this rule named the other customer's number).
        source, target = session.get(Ticket, last.ticket_id), session.get(Ticket, last.data["into"])
        if source is not None and target is not None:
            note = merge_note(session, source, target)
            return {"at": last.created_at, "body": merge_note_text(note), "body_label": note}
    return {"at": last.created_at, "body": last.body, "body_label": None}


def prune_attempts(session: Session, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete old lookup attempts."""
    result = session.execute(delete(ProgressQueryAttempt).where(ProgressQueryAttempt.at < utcnow() - older_than))
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count
