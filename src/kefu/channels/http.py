"""Shared webhook plumbing: read the raw body, verify and persist in the request's transaction."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.channels.service import receive_webhook
from kefu.core.errors import ProblemError

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


async def accept_webhook(request: Request, db: Session, inbox_id: int, kind: str) -> dict[str, int]:
    """Persist the events of a signed webhook; the DB dependency commits before the 200 goes out."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ProblemError("Webhook body too large.", status=413, title="Payload too large")
    events = await run_in_threadpool(receive_webhook, db, inbox_id, kind, body, request.headers)
    return {"accepted": len(events)}
