"""Notices sent about a case (what, when, by which route), for agents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.notices import service as _service  # noqa: F401  (registers the ticket status hook)
from kefu.notices.models import CustomerNotice
from kefu.tickets.service import get_ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["notices"])
Read = Annotated[Principal, Depends(require("tickets:read"))]


class NoticeOut(BaseModel):
    """One notice."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    route: str
    status: str
    reason: str | None
    outbox_id: int | None
    message_id: int | None
    body: str
    created_at: datetime


@router.get("/tickets/{ticket_id}/notices", response_model=list[NoticeOut])
def ticket_notices(ticket_id: int, db: DB, principal: Read) -> list[NoticeOut]:
    """Proactive notices sent to the customer about this case, oldest first."""
    t = get_ticket(db, ticket_id, principal)
    rows = db.scalars(select(CustomerNotice).where(CustomerNotice.ticket_id == t.id).order_by(CustomerNotice.id))
    return [NoticeOut.model_validate(r) for r in rows]
