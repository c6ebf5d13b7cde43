"""Personal data in complaints: the complainant, their contact, what they wrote and sent as evidence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.complaints.models import Complaint, RegulatorCase
from kefu.privacy.contract import PersonalData
from kefu.tickets.models import Ticket


def _complaints(ids: list[int]) -> Select[Any]:
    return select(Complaint).where(Complaint.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids))))


def _cases(ids: list[int]) -> Select[Any]:
    return select(RegulatorCase).where(
        RegulatorCase.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids)))
    )


DECLARATIONS = [
    PersonalData(
        Complaint,
        {
            "complainant_name": "name",
            "complainant_contact": "contact",
            "order_number": "text",
            "description": "text",
            "requested_remedy": "text",
            "evidence": "json",
            "outcome": "text",
        },
        owned_by=_complaints,
    ),
    PersonalData(RegulatorCase, {"subject": "text", "summary": "text"}, owned_by=_cases),
]
