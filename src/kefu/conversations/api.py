"""Conversation, message and customer-timeline endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from kefu.auth.deps import DB, commit_in_one_hop, require
from kefu.auth.permissions import Principal
from kefu.conversations import service
from kefu.conversations.commands import changes_of
from kefu.conversations.schemas import (
    ConversationCreate,
    ConversationOut,
    ConversationUpdate,
    MessageCreate,
    MessageOut,
    MessagePage,
    TimelineItem,
)
from kefu.core.pagination import Page
from kefu.customers.service import get_customer
from kefu.idempotency.deps import Idem
from kefu.privacy import masking as pii  # response masking for callers without pii:reveal (#7)
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["conversations"])
Read = Annotated[Principal, Depends(require("conversations:read"))]
Write = Annotated[Principal, Depends(require("conversations:write"))]


@router.get("/conversations", response_model=Page[ConversationOut])
def list_conversations(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    assignee_id: int | None = None,
    team_id: int | None = None,
    customer_id: int | None = None,
    channel: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[ConversationOut]:
    """Conversations, most recent activity first."""
    rows, nxt = service.list_conversations(
        db,
        principal,
        brand_id=brand_id,
        status=status,
        assignee_id=assignee_id,
        team_id=team_id,
        customer_id=customer_id,
        channel=channel,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[pii.conversation(principal, ConversationOut.model_validate(c)) for c in rows], next_cursor=nxt)


@router.post("/conversations", response_model=ConversationOut, status_code=201)
def create_conversation(
    body: ConversationCreate, db: DB, principal: Write, idem: Idem
) -> ConversationOut | JSONResponse:
    """Start a conversation."""

    def work() -> ConversationOut:
        conv = service.create_conversation(db, body.model_dump(), actor=principal)
        return pii.conversation(principal, ConversationOut.model_validate(conv))

    def again(conversation_id: int) -> ConversationOut:
        conv = service.get_conversation(db, conversation_id, principal)
        return pii.conversation(principal, ConversationOut.model_validate(conv))

    return idem.run(db, work, again)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(conversation_id: int, db: DB, principal: Read) -> ConversationOut:
    """One conversation."""
    return pii.conversation(
        principal, ConversationOut.model_validate(service.get_conversation(db, conversation_id, principal))
    )


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
def update_conversation(conversation_id: int, body: ConversationUpdate, db: DB, principal: Write) -> ConversationOut:
    """Assign, transfer, close or reopen."""
    conv = service.get_conversation(db, conversation_id, principal)
    return pii.conversation(
        principal,
        ConversationOut.model_validate(service.update_conversation(db, conv, principal, changes_of(body))),
    )


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
def list_messages(
    conversation_id: int,
    db: DB,
    principal: Read,
    after_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessagePage:
    """Messages oldest-first after `after_id`."""
    conv = service.get_conversation(db, conversation_id, principal)
    rows, nxt = service.list_messages(db, conv, after_id=after_id, limit=limit)
    return MessagePage(items=[pii.message(principal, MessageOut.model_validate(m)) for m in rows], next_after_id=nxt)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def post_message(
    conversation_id: int, body: MessageCreate, db: DB, principal: Write, idem: Idem
) -> MessageOut | JSONResponse:
    """Agent reply or internal note."""

    def reply() -> MessageOut:
        conv, inbox = service.get_conversation_and_inbox(db, conversation_id, principal)
        msg = service.post_message(db, conv, principal, body)
        del inbox  # held until here: the outbound hook finds it in the session instead of reading it again
        return pii.message(principal, MessageOut.model_validate(msg))

    def again(message_id: int) -> MessageOut:
        conv = service.get_conversation(db, conversation_id, principal)
        return pii.message(principal, MessageOut.model_validate(service.get_message(db, conv, message_id)))

    # The realtime hot path (a visitor waits for it): reply, commit and publish in one thread-pool hop.
    return await commit_in_one_hop(db, lambda: idem.run(db, reply, again))


@router.get("/customers/{customer_id}/timeline", response_model=Page[TimelineItem], tags=["customers"])
def timeline(
    customer_id: int,
    db: DB,
    principal: Read,
    before_id: int | None = None,
    include_notes: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[TimelineItem]:
    """The customer's messages across every channel, newest first."""
    customer = get_customer(db, customer_id, principal)
    rows, nxt = service.customer_timeline(db, customer, before_id=before_id, limit=limit, include_notes=include_notes)
    items = [
        pii.message(principal, TimelineItem(**MessageOut.model_validate(m).model_dump(), conversation_channel=ch))
        for m, ch in rows
    ]
    return Page(items=items, next_cursor=str(nxt) if nxt is not None else None)
