"""Call logging: an agent records a call (direction, duration, outcome, notes) into the timeline."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Inbox
from kefu.channels.http import MAX_WEBHOOK_BYTES
from kefu.channels.phone import telephony
from kefu.conversations.schemas import MessageOut
from kefu.conversations.service import add_message, create_conversation, get_conversation
from kefu.core.access import ensure_brand
from kefu.core.errors import InvalidInput, ProblemError
from kefu.customers.service import find_or_create_by_identity, get_customer
from kefu.tickets.intake import ensure_case
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/phone", tags=["channels"])
Write = Annotated[Principal, Depends(require("conversations:write"))]


class CallLog(BaseModel):
    """One phone call."""

    brand_id: int
    customer_id: int | None = None
    phone: Annotated[str | None, Field(max_length=64)] = None
    name: Annotated[str | None, Field(max_length=200)] = None
    conversation_id: int | None = None
    inbox_id: int | None = None
    direction: Literal["inbound", "outbound"]
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)]
    outcome: Literal["resolved", "follow_up", "escalated", "no_answer", "voicemail", "callback_requested"]
    notes: Annotated[str, Field(max_length=20_000)] = ""


class CallOut(BaseModel):
    """The logged call."""

    conversation_id: int
    customer_id: int
    message: MessageOut
    ticket_id: int | None = None
    ticket_number: str | None = None


OUTCOME_LABELS = {
    "resolved": "已解決 resolved",
    "follow_up": "待追蹤 follow-up",
    "escalated": "已轉派 escalated",
    "no_answer": "未接 no answer",
    "voicemail": "語音信箱 voicemail",
    "callback_requested": "要求回電 callback requested",
}


@router.post("/calls", response_model=CallOut, status_code=201)
def log_call(body: CallLog, db: DB, principal: Write) -> CallOut:
    """Record a call in a (new or given) phone conversation of the customer."""
    ensure_brand(principal, body.brand_id, "Brand")
    if body.inbox_id is not None:
        inbox = db.get(Inbox, body.inbox_id)
        if inbox is None or inbox.brand_id != body.brand_id or inbox.kind != "phone":
            raise InvalidInput("inbox_id must be a phone inbox of this brand.")
    if body.conversation_id is not None:
        conv = get_conversation(db, body.conversation_id, principal)
        if conv.brand_id != body.brand_id:
            raise InvalidInput("Conversation belongs to another brand.")
        customer_id = conv.customer_id
    else:
        if body.customer_id is not None:
            customer = get_customer(db, body.customer_id, principal)
            if customer.brand_id != body.brand_id:
                raise InvalidInput("Customer belongs to another brand.")
        elif body.phone:
            customer, _ = find_or_create_by_identity(db, body.brand_id, "phone", body.phone.strip(), body.name)
        else:
            raise InvalidInput("Give customer_id, phone or conversation_id.")
        customer_id = customer.id
        conv = create_conversation(
            db,
            brand_id=body.brand_id,
            customer_id=customer_id,
            channel="phone",
            actor=principal,
            inbox_id=body.inbox_id,
            subject=f"電話 {body.direction}",
        )
    minutes, seconds = divmod(body.duration_seconds, 60)
    direction = "來電" if body.direction == "inbound" else "去電"
    summary = f"📞 {direction} {minutes}:{seconds:02d} · {OUTCOME_LABELS[body.outcome]}"
    msg, _ = add_message(
        db,
        conv,
        sender_type="agent",
        agent_id=principal.agent_id,
        body=f"{summary}\n{body.notes}".strip(),
        content_type="call",
        meta={
            "call": {"direction": body.direction, "duration_seconds": body.duration_seconds, "outcome": body.outcome}
        },
    )
    ticket = ensure_case(db, conv, msg, actor=principal)
    return CallOut(
        conversation_id=conv.id,
        customer_id=customer_id,
        message=MessageOut.model_validate(msg),
        ticket_id=ticket.id if ticket else None,
        ticket_number=ticket.number if ticket else None,
    )


class CallEventOut(BaseModel):
    """What a telephony event did (a duplicate changes nothing and says so)."""

    duplicate: bool
    event_id: int
    customer_id: int | None = None
    conversation_id: int | None = None
    ticket_id: int | None = None
    callback_id: int | None = None


@router.post("/{inbox_id}/events", response_model=CallEventOut)
async def telephony_event(inbox_id: int, request: Request, db: DB) -> CallEventOut:
    """A PBX call event, signed with the inbox secret (X-Kefu-Timestamp, X-Kefu-Signature); see docs/TELEPHONY.md."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ProblemError("Webhook body too large.", status=413, title="Payload too large")
    result = await run_in_threadpool(telephony.receive, db, inbox_id, body, request.headers)
    return CallEventOut(**result.__dict__)
