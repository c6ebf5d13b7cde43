"""Call logging: an agent records a call (direction, duration, outcome, notes) into the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.channels.http import MAX_WEBHOOK_BYTES
from kefu.channels.phone import calls, telephony
from kefu.channels.phone.calls import CallLog
from kefu.conversations.schemas import MessageOut
from kefu.core.errors import ProblemError
from kefu.idempotency.deps import Idem
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/phone", tags=["channels"])
Write = Annotated[Principal, Depends(require("conversations:write"))]


class CallOut(BaseModel):
    """The logged call."""

    conversation_id: int
    customer_id: int
    message: MessageOut
    ticket_id: int | None = None
    ticket_number: str | None = None

    @property
    def id(self) -> int:
        """The call's own row is its timeline message (the conversation may be an earlier one): the key records it."""
        return self.message.id


def _call_out(logged: calls.Logged) -> CallOut:
    return CallOut(
        conversation_id=logged.conversation.id,
        customer_id=logged.customer_id,
        message=MessageOut.model_validate(logged.message),
        ticket_id=logged.ticket.id if logged.ticket else None,
        ticket_number=logged.ticket.number if logged.ticket else None,
    )


@router.post("/calls", response_model=CallOut, status_code=201)
def log_call(body: CallLog, db: DB, principal: Write, idem: Idem) -> CallOut | JSONResponse:
    """Record a call in a (new or given) phone conversation of the customer."""

    def work() -> CallOut:
        return _call_out(calls.log_call(db, principal, body))

    return idem.run(db, work, lambda message_id: _call_out(calls.get_call(db, principal, message_id)))


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
