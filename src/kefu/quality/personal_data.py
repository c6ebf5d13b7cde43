"""Personal data in the quality loop: an auditor's finding or a lead's attribution note may quote the customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.privacy.contract import PersonalData
from kefu.quality.models import AuditFinding, FeedbackAttribution
from kefu.tickets.models import Ticket


def _cases(ids: list[int]) -> Select[Any]:
    return select(Ticket.id).where(Ticket.customer_id.in_(ids))


def _findings(ids: list[int]) -> Select[Any]:
    return select(AuditFinding).where(AuditFinding.ticket_id.in_(_cases(ids)))


def _attributions(ids: list[int]) -> Select[Any]:
    return select(FeedbackAttribution).where(FeedbackAttribution.ticket_id.in_(_cases(ids)))


DECLARATIONS = [
    PersonalData(AuditFinding, {"finding": "text"}, owned_by=_findings),
    PersonalData(FeedbackAttribution, {"note": "text"}, owned_by=_attributions),
]
