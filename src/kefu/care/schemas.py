"""Care API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.care.commands import CareRules, ConvertToCase, DismissOpportunity, ReachOut


class RulesIn(CareRules):
    """A brand's care detection rules."""


class ReachOutIn(ReachOut):
    """The message to send."""


class DismissIn(DismissOpportunity):
    """Why no contact is needed."""


class ConvertIn(ConvertToCase):
    """The case to open."""


class OpportunityOut(BaseModel):
    """One care opportunity: who, why, the evidence (ids), and what was done."""

    id: int
    brand_id: int
    customer_id: int
    customer_name: str
    reason: str
    status: str
    evidence: dict[str, Any]
    detected_at: datetime
    decided_at: datetime | None
    decided_by: int | None
    dismiss_note: str
    conversation_id: int | None
    message_id: int | None
    ticket_id: int | None


class OpportunityPage(BaseModel):
    """A queue page."""

    items: list[OpportunityOut]


class FlowEventIn(BaseModel):
    """The widget's report of where the visitor is: the page path (query and fragment are dropped) and step."""

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, Field(min_length=1, max_length=2000)]
    step: Annotated[str, Field(max_length=100)] = ""
