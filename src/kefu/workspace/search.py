"""Console-wide search: tickets, conversations and customers in one answer, brand-scoped and PII-safe.

Nothing new is indexed here. Tickets are found by :func:`kefu.tickets.service.search_condition` (exact number, or
every query token in the ticket's script-folded, PII-masked document of subject, description and messages — see
:mod:`kefu.tickets.search`, migration 0901). People are found by :func:`kefu.privacy.search.person_filter` through
:func:`kefu.customers.service.list_customers`: without ``pii:reveal`` only a full name/email/phone the agent already
knows matches, never a fragment; phone numbers are compared as digits. Conversations are those of the matched
tickets and customers, plus conversations without a ticket whose messages contain every query word (in either
Chinese script; not for personal-looking queries without ``pii:reveal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session, aliased

from kefu.auth.permissions import Principal
from kefu.bot.nlu.text import to_simplified, to_traditional
from kefu.conversations.models import Conversation, Message
from kefu.core.access import scope_to_brands
from kefu.core.like import contains
from kefu.customers import service as customers
from kefu.customers.models import Customer
from kefu.privacy.masking import can_reveal
from kefu.privacy.search import looks_personal
from kefu.tickets.models import Ticket
from kefu.tickets.service import search_condition

MAX_QUERY = 200
S = TypeVar("S", bound=Select[Any])
MAX_WORDS = 5


@dataclass
class Results:
    """One search answer: each section is empty when the caller may not read it."""

    q: str
    tickets: list[Ticket] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    people: dict[int, Customer] = field(default_factory=dict)  # customer id -> row, for the ticket/conversation rows

    @property
    def empty(self) -> bool:
        """True when nothing matched."""
        return not (self.tickets or self.conversations or self.customers)


def normalize_query(q: str) -> str:
    """Trim and cap a query (inner whitespace collapsed)."""
    return " ".join(q.split())[:MAX_QUERY]


def _text_variants(q: str) -> list[str]:
    """The query as typed and in the other Chinese script (messages are stored as the customer wrote them)."""
    out = [q]
    for v in (to_simplified(q), to_traditional(q)):
        if v not in out:
            out.append(v)
    return out


def _ticketless_conversation_condition(
    principal: Principal, q: str, brand_id: int | None
) -> ColumnElement[bool] | None:
    """Conversations without a ticket whose messages contain the query (either script); None when not allowed.

    Without ``pii:reveal`` a query that looks like personal data never matches message text: a fragment search would
    otherwise confirm a masked phone number or email digit by digit (the rule of kefu.privacy.search).
    """
    if looks_personal(q) and not can_reveal(principal):
        return None
    words = q.split()[:MAX_WORDS]
    if not words:
        return None
    per_word = []
    for word in words:
        per_word.append(or_(*[contains(Message.body, v) for v in _text_variants(word)]))
    # Only messages of ticketless conversations in the caller's brands are scanned (ticketed ones are already
    # found through the indexed ticket document): the join walks ix_messages_conversation_id_id per conversation.
    owner = aliased(Conversation)
    hits = _scoped(
        select(Message.conversation_id).join(owner, owner.id == Message.conversation_id),
        owner.brand_id,
        principal,
        brand_id,
    ).where(owner.ticket_id.is_(None), and_(*per_word))
    return and_(Conversation.ticket_id.is_(None), Conversation.id.in_(hits))


def search(session: Session, principal: Principal, q: str, *, brand_id: int | None = None, limit: int = 20) -> Results:
    """Tickets, conversations and customers matching `q` in the caller's brands (each section needs its permission)."""
    q = normalize_query(q)
    out = Results(q=q)
    if not q:
        return out
    customer_ids: list[int] = []
    if principal.can("customers:read") or principal.can("conversations:read") or principal.can("tickets:read"):
        # Phone numbers are compared as digits there (Customer.phone_key), so one lookup covers every spelling.
        found, _ = customers.list_customers(
            session,
            principal,
            brand_id=brand_id,
            q=q,
            tier=None,
            vip=None,
            organization_id=None,
            include_merged=False,
            limit=limit,
            cursor=None,
        )
        customer_ids = [c.id for c in found]
        if principal.can("customers:read"):
            out.customers = found
    if principal.can("tickets:read"):
        stmt = select(Ticket).where(Ticket.merged_into_id.is_(None))
        stmt = _scoped(stmt, Ticket.brand_id, principal, brand_id)
        cond = search_condition(session, q)
        if customer_ids:
            cond = or_(cond, Ticket.customer_id.in_(customer_ids))
        out.tickets = list(session.scalars(stmt.where(cond).order_by(Ticket.updated_at.desc()).limit(limit)))
    if principal.can("conversations:read"):
        conds: list[ColumnElement[bool]] = []
        if customer_ids:
            conds.append(Conversation.customer_id.in_(customer_ids))
        ticket_ids = [t.id for t in out.tickets]
        if ticket_ids:
            conds.append(Conversation.ticket_id.in_(ticket_ids))
        ticketless = _ticketless_conversation_condition(principal, q, brand_id)
        if ticketless is not None:
            conds.append(ticketless)
        if conds:
            stmt2 = _scoped(select(Conversation), Conversation.brand_id, principal, brand_id).where(or_(*conds))
            out.conversations = list(
                session.scalars(
                    stmt2.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
                )
            )
    wanted = {t.customer_id for t in out.tickets if t.customer_id} | {c.customer_id for c in out.conversations}
    wanted -= {c.id for c in out.customers}
    out.people = {c.id: c for c in out.customers}
    if wanted:
        out.people.update({c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(wanted)))})
    return out


def _scoped(stmt: S, col: Any, principal: Principal, brand_id: int | None) -> S:
    stmt = scope_to_brands(stmt, col, principal)
    if brand_id is not None:
        stmt = stmt.where(col == brand_id)
    return stmt
