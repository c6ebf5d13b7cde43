"""Customer self-service progress query: ticket number + a contact that must match the ticket's customer.

Every failure (unknown number, wrong contact, no customer on the ticket) answers the same 404, and failures are
rate limited per IP and per ticket number across processes (rows in `progress_query_attempts`), so the endpoint
neither confirms that a number exists nor allows guessing contacts.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.core import catalog
from kefu.core.db import utcnow
from kefu.core.errors import NotFound
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.customers.models import Customer
from kefu.tickets.models import ProgressQueryAttempt, Ticket, TicketActivity

MAX_FAILURES_PER_IP = 10
MAX_FAILURES_PER_NUMBER = 5
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


def check_rate_limit(session: Session, ip: str, number: str, now: datetime) -> None:
    """429 once too many recent failures came from this IP or targeted this ticket number."""
    failures = WindowLimit(ProgressQueryAttempt.at, WINDOW, (ProgressQueryAttempt.success.is_(False),))
    budgets = [
        Budget(ProgressQueryAttempt.ip == ip, MAX_FAILURES_PER_IP),
        Budget(ProgressQueryAttempt.number == number, MAX_FAILURES_PER_NUMBER),
    ]
    failures.enforce(session, budgets, "Too many attempts; try again later. / 嘗試次數過多，請稍後再試。", now=now)


def customer_progress(
    session: Session,
    number: str,
    contact: str,
    *,
    ip: str = "bot",
    now: datetime | None = None,
    brand_id: int | None = None,
) -> dict[str, Any]:
    """The customer-safe view of a ticket, if `contact` matches its customer (for the API and the bot).

    `brand_id` restricts the lookup to one brand (the portal of that brand): brands may share a ticket prefix.
    """
    now = now or utcnow()
    number = number.strip().upper()[:32]
    check_rate_limit(session, ip, number, now)
    stmt = select(Ticket).where(Ticket.number == number)
    if brand_id is not None:
        stmt = stmt.where(Ticket.brand_id == brand_id)
    ticket = session.scalar(stmt)
    customer = session.get(Customer, ticket.customer_id) if ticket and ticket.customer_id else None
    ok = customer is not None and contact_matches(customer, contact)
    session.add(ProgressQueryAttempt(ip=ip[:64], number=number, success=ok, at=now))
    session.flush()
    if not ok or ticket is None:
        raise NotFound(NO_MATCH)
    return progress_view(session, ticket)


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


def progress_view(session: Session, ticket: Ticket) -> dict[str, Any]:
    """Status, dates and the latest public update — never internal notes, assignees or teams."""
    from kefu.tickets.service import category_labels

    shown = ticket
    merged_into = None
    if ticket.merged_into_id is not None:
        target = session.get(Ticket, ticket.merged_into_id)
        # Agents may merge a duplicate into another customer's ticket: its customer then sees only their own
        # (closed) ticket, never the survivor's number, subject or public updates.
        owner = _surviving_customer(session, ticket.customer_id)
        if target is not None and owner is not None and owner == _surviving_customer(session, target.customer_id):
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
        "last_update": {"at": last.created_at, "body": last.body} if last is not None else None,
        "can_confirm": shown.status == "resolved",
    }


def prune_attempts(session: Session, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete old lookup attempts."""
    result = session.execute(delete(ProgressQueryAttempt).where(ProgressQueryAttempt.at < utcnow() - older_than))
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count
