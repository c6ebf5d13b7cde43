"""Intake: every customer contact becomes a case (ticket) per the inbox's policy, and the case follows the contact.

One place decides when a conversation gets a ticket, so classification, routing and the SLA matrix apply whatever
the entry point (email, phone, message board, API, LINE/Messenger/web chat in human mode):

* ``case_policy`` per inbox (``inbox.config["case_policy"]``): ``first_message`` opens the case on the first inbound
  message; ``handoff`` opens it once humans own the conversation (a message while the conversation is not in bot
  mode, or the bot's hand-off); ``never`` leaves conversations without cases.  Defaults: ``first_message`` for email,
  phone, board and API inboxes, ``handoff`` for chats (so human-mode chats get a case on their first message) and
  for any conversation the bot owns (an API inbox with the bot on: a case per "你好" or per answered FAQ would flood
  the queue; the bot's hand-off opens it). An explicitly configured policy always applies.
* The case opens at the inbound message's time, so SLA clocks run from the customer's first message.
* A customer writing again on a thread whose case was resolved reopens it; on a case already closed (confirmed and
  archived) a follow-up case is opened and linked to it as related.
* A case classified as a complaint gets its complaint record (1 business day acknowledgement, 3–5 days reply).
* Forms (board, portal, leave-a-message) are explicit requests and always open a case.
* Closing a conversation resolves its open case (the customer then confirms → closed, or it auto-closes).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.models import Inbox
from kefu.brands.texts import brand_text
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import InvalidInput
from kefu.tickets.models import OPEN_STATUSES, Ticket, TicketLink
from kefu.tickets.timeline import add_activity

CASE_POLICIES = ("first_message", "handoff", "never")
DEFAULT_CASE_POLICY: dict[str, str] = {
    "email": "first_message",
    "phone": "first_message",
    "board": "first_message",
    "api": "first_message",
    "web_chat": "handoff",
    "line": "handoff",
    "messenger": "handoff",
}
# A case with nothing to name it by gets its channel's subject (catalog `subj_<channel>`), in the brand's language.
_SUBJECT_CHANNELS = frozenset({"email", "phone", "board", "line", "messenger", "web_chat", "api"})


def check_policy(value: object) -> str:
    """Validate an inbox case policy (admin and API input)."""
    if value not in CASE_POLICIES:
        raise InvalidInput.said("err_tickets_case_policy_choice", choices=", ".join(CASE_POLICIES))
    return str(value)


def case_policy(inbox: Inbox | None, channel: str, *, bot: bool = False) -> str:
    """The inbox's configured policy, else the channel's default — ``handoff`` while the bot owns the conversation
    (unknown values fall back to the default)."""
    configured = (inbox.config or {}).get("case_policy") if inbox is not None else None
    if configured in CASE_POLICIES:
        return str(configured)
    return "handoff" if bot else DEFAULT_CASE_POLICY.get(channel, "first_message")


def is_inbound(message: Message) -> bool:
    """A contact from the customer: a customer message, or an incoming call an agent logged."""
    if message.is_note:
        return False
    if message.sender_type == "customer":
        return True
    call = (message.meta or {}).get("call")
    return message.content_type == "call" and isinstance(call, dict) and call.get("direction") == "inbound"


def _subject(session: Session, conv: Conversation, message: Message) -> str:
    first_line = next((line.strip() for line in (message.body or "").splitlines() if line.strip()), "")
    if message.content_type == "call":
        first_line = ""  # the call summary line ("📞 來電 3:05 · …") says nothing about the matter
    if conv.subject or first_line:
        return (conv.subject or first_line[:120])[:200]
    channel = conv.channel if conv.channel in _SUBJECT_CHANNELS else "api"
    return brand_text(session, conv.brand_id, f"subj_{channel}")[:200]


def _live(session: Session, ticket_id: int | None) -> Ticket | None:
    """The ticket, following merges to the surviving one."""
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    seen: set[int] = set()
    while ticket is not None and ticket.merged_into_id is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket


def case_of(session: Session, conv: Conversation) -> Ticket | None:
    """The conversation's current case (following merges), as `ensure_case` last answered it."""
    return _live(session, conv.ticket_id)


def _previous_case(session: Session, conv: Conversation) -> Ticket | None:
    """The case of an earlier conversation on the same thread (a chat reopened after it was closed)."""
    if conv.inbox_id is None or not conv.external_thread_id:
        return None
    ticket_id = session.scalar(
        select(Conversation.ticket_id)
        .where(
            Conversation.inbox_id == conv.inbox_id,
            Conversation.external_thread_id == conv.external_thread_id,
            Conversation.id != conv.id,
            Conversation.ticket_id.is_not(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return _live(session, ticket_id)


def _reopen(session: Session, ticket: Ticket, message: Message, actor: Principal | None) -> Ticket:
    from kefu.tickets.service import update_ticket

    update_ticket(session, ticket, actor, {"status": "open"})
    add_activity(session, ticket, "reopen", data={"by": "customer_reply", "message_id": message.id})
    session.flush()
    return ticket


def ensure_case(
    session: Session,
    conversation: Conversation,
    message: Message,
    *,
    actor: Principal | None = None,
    category: str | None = None,
    requested: bool = False,
) -> Ticket | None:
    """Open, reopen or follow up the case for an inbound message per the inbox's policy; returns the case (or None).

    ``requested``: the customer asked for a case explicitly (a form: board, portal, leave-a-message), so it opens
    whatever the policy says.
    """
    if not is_inbound(message):
        return _live(session, conversation.ticket_id)
    current = _live(session, conversation.ticket_id)
    if current is not None and current.status not in ("resolved", "closed"):
        return current
    if current is not None and current.status == "resolved":
        return _reopen(session, current, message, actor)
    inbox = session.get(Inbox, conversation.inbox_id) if conversation.inbox_id is not None else None
    if current is None:
        earlier = _previous_case(session, conversation)
        if earlier is not None and earlier.status != "closed":
            conversation.ticket_id = earlier.id
            session.flush()
            return _reopen(session, earlier, message, actor) if earlier.status == "resolved" else earlier
        if earlier is not None:
            current = earlier  # archived: the new case follows up on it
    policy = case_policy(inbox, conversation.channel, bot=conversation.status == "bot")
    held = policy == "never" or (policy == "handoff" and conversation.status == "bot")
    if current is None and held and not requested:
        return None
    return _open(session, conversation, message, actor=actor, category=category, follows=current)


def _open(
    session: Session,
    conv: Conversation,
    message: Message,
    *,
    actor: Principal | None,
    category: str | None,
    follows: Ticket | None,
) -> Ticket:
    from kefu.tickets.service import create_ticket, update_ticket

    conv.ticket_id = None
    session.flush()
    ticket = create_ticket(
        session,
        brand_id=conv.brand_id,
        subject=_subject(session, conv, message),
        actor=actor,
        description=message.body or "",
        customer_id=conv.customer_id,
        category=category,
        channel=conv.channel,
        conversation_id=conv.id,
        tags=["follow-up"] if follows is not None else None,
        opened_at=message.created_at,
    )
    if follows is not None:
        session.add(
            TicketLink(
                brand_id=ticket.brand_id,
                source_id=follows.id,
                target_id=ticket.id,
                kind="related",
                created_by=actor.agent_id if actor else None,
            )
        )
        add_activity(session, ticket, "follow_up", data={"of": follows.id, "number": follows.number})
    add_activity(session, ticket, "intake", data={"conversation_id": conv.id, "message_id": message.id})
    # The conversation is worked by the case's team and assignee from now on.
    if conv.team_id is None:
        conv.team_id = ticket.team_id
    if conv.assignee_id is None:
        conv.assignee_id = ticket.assignee_id
    if ticket.category == "complaint":
        from kefu.complaints.service import register_for_ticket  # complaints build on tickets

        register_for_ticket(session, ticket, actor)  # its acknowledgement/reply deadlines are watched
    call = (message.meta or {}).get("call") if message.content_type == "call" else None
    if isinstance(call, dict):
        # A call is answered live: the agent's answer is the first response; a call solved on the spot resolves it.
        ticket.first_response_at = ticket.first_response_at or message.created_at
        if call.get("outcome") == "resolved":
            update_ticket(session, ticket, actor, {"status": "resolved"})
    session.flush()
    return ticket


def conversation_closed(session: Session, conv: Conversation, actor: Principal | None) -> Ticket | None:
    """Closing a conversation resolves its case when no other open conversation still works on it."""
    from kefu.tickets.service import update_ticket

    ticket = _live(session, conv.ticket_id)
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return ticket
    other_open = session.scalar(
        select(Conversation.id)
        .where(Conversation.ticket_id == ticket.id, Conversation.id != conv.id, Conversation.status != "closed")
        .limit(1)
    )
    if other_open is not None:
        return ticket
    update_ticket(session, ticket, actor, {"status": "resolved"})
    add_activity(
        session,
        ticket,
        "resolve",
        public=True,
        body="客服已處理完畢，請確認問題是否解決 / Your request has been handled; please confirm it is solved.",
        data={"by": "conversation_closed", "conversation_id": conv.id},
        agent_id=actor.agent_id if actor else None,
    )
    session.flush()
    return ticket
