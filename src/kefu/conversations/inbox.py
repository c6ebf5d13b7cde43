"""Console reads over conversations: the inbox views and everything the conversation workspace shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kefu.auth.models import Agent, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.auth.service import agent_visibility, assignable_agents
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import customer_timeline, get_conversation
from kefu.core.access import scope_to_brands
from kefu.core.enums import ChannelKind
from kefu.customers.models import Customer, CustomerIdentity, Organization
from kefu.privacy.search import person_filter
from kefu.tickets.lookup import matching_ticket_ids
from kefu.tickets.models import Ticket

INBOX_LIMIT = 100


@dataclass(frozen=True)
class InboxItem:
    """One inbox row: the conversation, its customer and the latest public message (None before the first)."""

    conv: Conversation
    customer: Customer
    last: Message | None


@dataclass(frozen=True)
class Workspace:
    """What the conversation page shows next to the timeline, all visible to the principal who asked."""

    conv: Conversation
    customer: Customer
    brand: Brand
    timeline: list[tuple[Message, ChannelKind]]
    agents: dict[int, Agent]
    assignees: list[Agent]
    teams: list[Team]
    ticket: Ticket | None
    tickets: list[Ticket]
    identities: list[CustomerIdentity]
    org: Organization | None


def team_ids_of(session: Session, agent_id: int) -> list[int]:
    """The teams an agent belongs to."""
    return list(session.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent_id)))


def inbox(session: Session, principal: Principal, view: str, q: str | None) -> list[InboxItem]:
    """Conversations of an inbox view (latest activity first, at most INBOX_LIMIT) in the principal's brands."""
    stmt = select(Conversation, Customer).join(Customer, Customer.id == Conversation.customer_id)
    stmt = scope_to_brands(stmt, Conversation.brand_id, principal)
    if view == "closed":
        stmt = stmt.where(Conversation.status == "closed")
    else:
        stmt = stmt.where(Conversation.status != "closed")
    if view == "mine":
        stmt = stmt.where(Conversation.assignee_id == principal.agent_id)
    elif view == "team":
        stmt = stmt.where(Conversation.team_id.in_(team_ids_of(session, principal.agent_id)))
    elif view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif view == "vip":
        stmt = stmt.where(Customer.vip.is_(True))
    if q:
        # People by the privacy rule; words, ticket numbers and order numbers through the ticket search document.
        stmt = stmt.where(
            or_(
                person_filter(
                    principal,
                    q,
                    names=[Customer.name],
                    emails=[Customer.email],
                    phones=[Customer.phone],
                    phone_keys=[Customer.phone_key],
                    texts=[Conversation.subject],
                ),
                Conversation.ticket_id.in_(matching_ticket_ids(session, q)),
            )
        )
    order = (Conversation.last_message_at.desc(), Conversation.id.desc())
    rows = [(c, cust) for c, cust in session.execute(stmt.order_by(*order).limit(INBOX_LIMIT))]
    last: dict[int, Message] = {}
    if rows:
        latest = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_([c.id for c, _ in rows]), Message.is_note.is_(False))
            .group_by(Message.conversation_id)
        )
        for m in session.scalars(select(Message).where(Message.id.in_(latest))):
            last[m.conversation_id] = m
    return [InboxItem(c, cust, last.get(c.id)) for c, cust in rows]


def workspace(session: Session, principal: Principal, conversation_id: int) -> Workspace:
    """The conversation with its customer's cross-channel timeline, people, teams and cases (404 outside the brands)."""
    conv = get_conversation(session, conversation_id, principal)
    customer = session.get(Customer, conv.customer_id)
    assert customer is not None
    brand = session.get(Brand, conv.brand_id)
    assert brand is not None
    rows, _ = customer_timeline(session, customer, before_id=None, limit=200, include_notes=True)
    # Names shown in the timeline: agents visible to the caller; the assignee list: who may take this brand's work.
    visible = select(Agent).where(agent_visibility(principal)).order_by(Agent.name)
    agents = {a.id: a for a in session.scalars(visible)}
    assignees = assignable_agents(session, conv.brand_id)
    teams = list(session.scalars(select(Team).where(Team.brand_id == conv.brand_id).order_by(Team.name)))
    ticket = session.get(Ticket, conv.ticket_id) if conv.ticket_id else None
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.id.desc()).limit(20))
    )
    identities = list(session.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)))
    org = session.get(Organization, customer.organization_id) if customer.organization_id else None
    return Workspace(
        conv=conv,
        customer=customer,
        brand=brand,
        timeline=list(reversed(rows)),
        agents=agents,
        assignees=assignees,
        teams=teams,
        ticket=ticket,
        tickets=tickets,
        identities=identities,
        org=org,
    )
