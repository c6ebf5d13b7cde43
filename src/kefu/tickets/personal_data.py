"""Personal data in tickets: subject, description and custom fields, and every timeline entry (comments, hand-off
summaries and transcripts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.privacy.contract import PersonalData
from kefu.tickets.models import Ticket, TicketActivity


def _activities(ids: list[int]) -> Select[Any]:
    return select(TicketActivity).where(
        TicketActivity.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids)))
    )


DECLARATIONS = [
    # Tickets themselves are masked and unlinked by privacy.service.erase_customer (kept for statistics).
    PersonalData(Ticket, {"subject": "text", "description": "text", "custom_fields": "json"}),
    PersonalData(TicketActivity, {"body": "text", "data": "json"}, owned_by=_activities),
]
