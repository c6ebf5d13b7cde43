"""Generic API channel endpoint."""

from __future__ import annotations

from fastapi import Request

from kefu.auth.deps import DB
from kefu.channels.http import accept_webhook
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/api", tags=["channels"])


@router.post("/{inbox_id}/messages", status_code=202)
async def api_messages(inbox_id: int, request: Request, db: DB) -> dict[str, int]:
    """Messages from an integration (Authorization: Bearer <inbox secret>); 202 once committed."""
    return await accept_webhook(request, db, inbox_id, "api")
