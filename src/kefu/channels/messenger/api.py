"""Messenger webhook endpoints: subscription handshake and signed events."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import PlainTextResponse

from kefu.auth.deps import DB
from kefu.channels.http import accept_webhook
from kefu.channels.messenger.protocol import verify_challenge
from kefu.channels.service import get_inbox
from kefu.core.errors import Forbidden
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/messenger", tags=["channels"])


@router.get("/{inbox_id}/webhook", response_class=PlainTextResponse)
def messenger_verify(inbox_id: int, request: Request, db: DB) -> PlainTextResponse:
    """Meta's GET handshake: echo hub.challenge when hub.verify_token matches the inbox's."""
    inbox = get_inbox(db, inbox_id, "messenger")
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    challenge = verify_challenge(params, str((inbox.config or {}).get("verify_token") or ""))
    if challenge is None:
        raise Forbidden("Verification token mismatch.")
    return PlainTextResponse(challenge)


@router.post("/{inbox_id}/webhook")
async def messenger_webhook(inbox_id: int, request: Request, db: DB) -> dict[str, int]:
    """Signed page events; 200 only once they are committed."""
    return await accept_webhook(request, db, inbox_id, "messenger")
