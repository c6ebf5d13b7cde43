"""Each ticket/conversation command publishes exactly its events, after commit, on the brand's and record's topics."""

from __future__ import annotations

from typing import Any

from kefu.conversations.commands import CreateConversation
from tests.tickets.helpers import admin_principal


def _seen(events: list[Any]) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """The events delivered so far as (type, topics, data), then forget them."""
    out = [(e.type, tuple(e.topics), dict(e.data)) for e in events]
    events.clear()
    return out


def test_ticket_and_conversation_commands_publish_their_events(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.conversations.commands import PostMessage
    from kefu.conversations.service import create_conversation, post_message, update_conversation
    from kefu.tickets.commands import AssignTicket, ChangeTicketStatus
    from kefu.tickets.service import add_comment, assign_ticket, change_ticket_status, create_ticket, merge_tickets

    brand = make.brand()
    agent = make.agent("agent", [brand])
    p = admin_principal(make.agent("admin"))
    customer = make.customer(brand)
    b, topics_of = f"brand:{brand.id}", lambda kind, id_: (f"brand:{brand.id}", f"{kind}:{id_}")

    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="api"), actor=None
    )
    assert _seen(events) == []  # nothing leaves before the commit
    db.commit()
    assert _seen(events) == [
        (
            "conversation.created",
            (*topics_of("conversation", conv.id), f"customer:{customer.id}"),
            {"id": conv.id, "customer_id": customer.id, "channel": "api"},
        )
    ]

    ticket = create_ticket(db, brand_id=brand.id, subject="退款", actor=p, conversation_id=conv.id)
    db.commit()
    card = {"id": ticket.id, "number": ticket.number, "assignee_id": None, "team_id": None, "subject": "退款"}
    assert _seen(events) == [
        ("ticket.created", topics_of("ticket", ticket.id), {**card, "status": "new", "priority": "normal"})
    ]

    # Reply: customer-facing, so it also goes to the conversation's public topic; a note never does.
    reply = post_message(db, conv, p, PostMessage(body="您好，已為您處理。"))
    note = post_message(db, conv, p, PostMessage(body="內部備註", is_note=True))
    db.commit()
    got = _seen(events)
    assert [(kind, topics, data["id"], data["is_note"]) for kind, topics, data in got] == [
        ("message.created", (b, f"conversation:{conv.id}", f"conversation:{conv.id}:public"), reply.id, False),
        ("message.created", (b, f"conversation:{conv.id}"), note.id, True),
    ]

    # Assign: the conversation and its ticket each announce the change once.
    update_conversation(db, conv, p, {"assignee_id": agent.id})
    assign_ticket(db, ticket, p, AssignTicket(assignee_id=agent.id))
    db.commit()
    got = _seen(events)
    assert [(kind, topics) for kind, topics, _ in got] == [
        ("conversation.updated", topics_of("conversation", conv.id)),
        ("ticket.updated", topics_of("ticket", ticket.id)),
    ]
    assert got[0][2]["assignee_id"] == agent.id
    card["assignee_id"] = agent.id
    assert got[1][2] == {**card, "status": "open", "priority": "normal"}  # assigning a new ticket opens it

    change_ticket_status(db, ticket, p, ChangeTicketStatus(status="pending", priority="high"))
    db.commit()
    assert _seen(events) == [
        (
            "ticket.status_changed",
            topics_of("ticket", ticket.id),
            # The transition is announced before the other fields apply: the new priority is in ticket.updated.
            {**card, "status": "pending", "priority": "normal", "from": "open"},
        ),
        ("ticket.updated", topics_of("ticket", ticket.id), {**card, "status": "pending", "priority": "high"}),
    ]
    change_ticket_status(db, ticket, p, ChangeTicketStatus(status="pending"))
    db.commit()
    assert [e[0] for e in _seen(events)] == ["ticket.updated"]  # no transition, no status_changed

    add_comment(db, ticket, p, "已為您退款", public=True)
    db.commit()
    assert [(kind, topics) for kind, topics, _ in _seen(events)] == [
        ("ticket.comment", (*topics_of("ticket", ticket.id), f"ticket:{ticket.id}:public"))
    ]

    other = create_ticket(db, brand_id=brand.id, subject="重複", actor=p)
    db.commit()
    events.clear()
    merge_tickets(db, ticket, [other], p)
    db.commit()
    got = _seen(events)
    assert [(kind, topics) for kind, topics, _ in got] == [
        ("ticket.merged", topics_of("ticket", other.id)),
        ("ticket.updated", topics_of("ticket", ticket.id)),
    ]
    assert (got[0][2]["into"], got[0][2]["status"]) == (ticket.id, "closed")
