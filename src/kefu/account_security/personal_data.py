"""Personal data in the security ladder: the agents' step notes may quote or name the customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.account_security.models import SecurityStep
from kefu.privacy.contract import PersonalData
from kefu.tickets.models import Ticket


def _steps(ids: list[int]) -> Select[Any]:
    return select(SecurityStep).where(SecurityStep.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids))))


DECLARATIONS = [PersonalData(SecurityStep, {"note": "text"}, owned_by=_steps)]
