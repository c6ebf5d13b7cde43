"""Personal data in follow-ups: the agent's note about the call may quote or name the customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.followups.models import FollowUp
from kefu.privacy.contract import PersonalData
from kefu.tickets.models import Ticket


def _follow_ups(ids: list[int]) -> Select[Any]:
    return select(FollowUp).where(FollowUp.ticket_id.in_(select(Ticket.id).where(Ticket.customer_id.in_(ids))))


DECLARATIONS = [PersonalData(FollowUp, {"note": "text"}, owned_by=_follow_ups)]
