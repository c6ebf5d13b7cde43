"""Personal data in agent notifications: their text quotes ticket subjects."""

from __future__ import annotations

from sqlalchemy import select

from kefu.privacy.contract import PersonalData
from kefu.sla.models import Notification
from kefu.tickets.models import Ticket

DECLARATIONS = [
    PersonalData(
        Notification,
        {"title": "text", "body": "text", "data": "json"},
        owned_by=lambda ids: select(Notification).where(
            Notification.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids)))
        ),
    ),
]
