"""LINE webhook endpoint."""

from __future__ import annotations

from fastapi import Request

from kefu.auth.deps import DB
from kefu.channels.http import accept_webhook
from kefu.web.routing import Router

router = Router(prefix="/api/v1/channels/line", tags=["channels"])


@router.post("/{inbox_id}/webhook")
async def line_webhook(inbox_id: int, request: Request, db: DB) -> dict[str, int]:
    """Signed LINE events; 200 only once they are committed."""
    return await accept_webhook(request, db, inbox_id, "line")
