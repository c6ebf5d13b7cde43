"""Personal data in care: an agent's dismissal note may name the customer; page paths are the visitor's browsing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.care.models import CareFlowEvent, CareOpportunity
from kefu.privacy.contract import PersonalData


def _opportunities(ids: list[int]) -> Select[Any]:
    return select(CareOpportunity).where(CareOpportunity.customer_id.in_(ids))


def _flow(ids: list[int]) -> Select[Any]:
    return select(CareFlowEvent).where(CareFlowEvent.customer_id.in_(ids))


DECLARATIONS = [
    PersonalData(CareOpportunity, {"dismiss_note": "text"}, owned_by=_opportunities),
    PersonalData(CareFlowEvent, {"path": "text", "step": "text"}, owned_by=_flow, erase="delete"),
]
