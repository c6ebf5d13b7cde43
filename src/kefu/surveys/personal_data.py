"""Personal data in surveys: what customers wrote in their answers."""

from __future__ import annotations

from sqlalchemy import select

from kefu.privacy.contract import PersonalData
from kefu.surveys.models import CampaignRecipient, CsatSurvey

DECLARATIONS = [
    PersonalData(
        CsatSurvey,
        {"comment": "text"},
        owned_by=lambda ids: select(CsatSurvey).where(CsatSurvey.customer_id.in_(ids)),
    ),
    PersonalData(
        CampaignRecipient,
        {"comment": "text"},
        owned_by=lambda ids: select(CampaignRecipient).where(CampaignRecipient.customer_id.in_(ids)),
    ),
]
