"""Ticket relations: links (related, duplicate, parent/child), merge and split."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.conversations.models import Conversation
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.sla import service as sla
from kefu.tickets.creation import create_ticket
from kefu.tickets.lifecycle import _set_status
from kefu.tickets.models import (
    LINK_KINDS,
    Ticket,
    TicketLink,
)
from kefu.tickets.progress import merge_note, merge_note_text
from kefu.tickets.timeline import add_activity, ticket_event
from kefu.tickets.timeline import ticket_topics as _topics

# --------------------------------------------------------------------------- links, merge, split


def _parents(session: Session, ticket_id: int) -> set[int]:
    seen: set[int] = set()
    frontier = {ticket_id}
    while frontier:
        ups = set(
            session.scalars(
                select(TicketLink.source_id).where(
                    TicketLink.target_id.in_(frontier), TicketLink.kind == "parent_child"
                )
            )
        )
        frontier = ups - seen
        seen |= ups
    return seen


def link_tickets(session: Session, source: Ticket, target: Ticket, kind: str, actor: Principal | None) -> TicketLink:
    """Relate two tickets of one brand; for parent_child, `source` is the parent."""
    if kind not in LINK_KINDS:
        raise InvalidInput.said("err_tickets_link_kind_choice", choices=", ".join(LINK_KINDS))
    if source.brand_id != target.brand_id:
        raise NotFound.said("err_tickets_ticket_not_found")
    if source.id == target.id:
        raise InvalidInput.said("err_tickets_link_to_itself")
    pair = [(source.id, target.id)] if kind == "parent_child" else [(source.id, target.id), (target.id, source.id)]
    for a, b in pair:
        exists = session.scalar(
            select(TicketLink.id).where(TicketLink.source_id == a, TicketLink.target_id == b, TicketLink.kind == kind)
        )
        if exists is not None:
            raise Conflict.said("err_tickets_already_linked")
    if kind == "parent_child":
        if target.id in _parents(session, source.id) or source.id in _parents(session, target.id) - {source.id}:
            raise Conflict.said("err_tickets_link_cycle")
        has_parent = session.scalar(
            select(TicketLink.id).where(TicketLink.target_id == target.id, TicketLink.kind == "parent_child")
        )
        if has_parent is not None:
            raise Conflict.said("err_tickets_has_parent", number=target.number)
    link = TicketLink(
        brand_id=source.brand_id,
        source_id=source.id,
        target_id=target.id,
        kind=kind,
        created_by=actor.agent_id if actor else None,
    )
    session.add(link)
    session.flush()
    record(
        session,
        actor,
        "ticket.link",
        target_type="ticket",
        target_id=source.id,
        brand_id=source.brand_id,
        details={"target": target.id, "kind": kind},
    )
    return link


def links_of(session: Session, ticket: Ticket) -> list[TicketLink]:
    """Links where the ticket is either end."""
    return list(
        session.scalars(
            select(TicketLink)
            .where(or_(TicketLink.source_id == ticket.id, TicketLink.target_id == ticket.id))
            .order_by(TicketLink.id)
        )
    )


def unlink(session: Session, ticket: Ticket, link_id: int, actor: Principal | None) -> None:
    """Remove a link of the ticket."""
    link = session.get(TicketLink, link_id)
    if link is None or ticket.id not in (link.source_id, link.target_id):
        raise NotFound.said("err_tickets_link_not_found", link_id=link_id)
    record(
        session,
        actor,
        "ticket.unlink",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"link": link_id, "kind": link.kind},
    )
    session.delete(link)
    session.flush()


def merge_tickets(session: Session, target: Ticket, sources: Sequence[Ticket], actor: Principal | None) -> Ticket:
    """Merge duplicates into `target`: conversations move, tags unite, sources close as merged duplicates."""
    if target.merged_into_id is not None:
        raise Conflict.said("err_tickets_merge_target_merged", number=target.number)
    if target.status == "closed":
        raise Conflict.said("err_tickets_merge_target_closed", number=target.number)
    if not sources:
        raise InvalidInput.said("err_tickets_merge_needs_ticket")
    now = utcnow()
    for src in sources:
        if src.brand_id != target.brand_id:
            raise NotFound.said("err_tickets_ticket_not_found")
        if src.id == target.id:
            raise InvalidInput.said("err_tickets_merge_into_itself")
        if src.merged_into_id is not None:
            raise Conflict.said("err_tickets_already_merged", number=src.number)
    for src in sources:
        session.execute(update(Conversation).where(Conversation.ticket_id == src.id).values(ticket_id=target.id))
        target.tags = sorted(set(target.tags or []) | set(src.tags or []))
        if target.customer_id is None and src.customer_id is not None:
            target.customer_id, target.organization_id = src.customer_id, src.organization_id
        if src.status != "closed":
            _set_status(session, src, "closed", now)
        src.merged_into_id = target.id
        src.updated_at = now
        session.add(
            TicketLink(
                brand_id=src.brand_id,
                source_id=src.id,
                target_id=target.id,
                kind="duplicate",
                created_by=actor.agent_id if actor else None,
            )
        )
        add_activity(
            session,
            src,
            "merge",
            public=True,
            body=merge_note_text(merge_note(session, src, target)),
            data={"into": target.id},
            at=now,
        )
        add_activity(session, target, "merge", data={"from": src.id, "number": src.number}, at=now)
        session.flush()
        sla.refresh_ticket_sla(session, src, now)
        publish(session, "ticket.merged", {**ticket_event(src), "into": target.id}, _topics(src))
    target.updated_at = now
    session.flush()
    record(
        session,
        actor,
        "ticket.merge",
        target_type="ticket",
        target_id=target.id,
        brand_id=target.brand_id,
        details={"sources": [s.id for s in sources]},
    )
    publish(session, "ticket.updated", ticket_event(target), _topics(target))
    return target


def split_ticket(
    session: Session,
    source: Ticket,
    actor: Principal | None,
    *,
    subject: str,
    description: str = "",
    conversation_ids: Sequence[int] = (),
    category: str | None = None,
) -> Ticket:
    """Split part of a ticket into a new child ticket, moving the given conversations to it."""
    if source.merged_into_id is not None:
        raise Conflict.said("err_tickets_split_merged", number=source.number)
    convs = []
    for cid in conversation_ids:
        conv = session.get(Conversation, cid)
        if conv is None or conv.ticket_id != source.id:
            raise InvalidInput.said("err_tickets_conversation_not_linked", conversation_id=cid, number=source.number)
        convs.append(conv)
    child = create_ticket(
        session,
        brand_id=source.brand_id,
        subject=subject,
        actor=actor,
        description=description,
        customer_id=source.customer_id,
        priority=source.priority,
        category=category or source.category,
        channel=source.channel,
        team_id=source.team_id,
        tags=list(source.tags or []),
        language=source.language,
    )
    for conv in convs:
        conv.ticket_id = child.id
    link_tickets(session, source, child, "parent_child", actor)
    add_activity(session, source, "split", data={"child": child.id, "number": child.number})
    add_activity(session, child, "split", data={"parent": source.id, "number": source.number})
    session.flush()
    publish(session, "ticket.split", {**ticket_event(child), "parent": source.id}, _topics(source))
    return child
