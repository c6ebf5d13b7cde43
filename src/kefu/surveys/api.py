"""Survey API: public answer endpoints (signed link, no login) and campaign management."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.db import utcnow
from kefu.surveys import service
from kefu.surveys.schemas import (
    CampaignAnswerIn,
    CampaignFormOut,
    CampaignIn,
    CampaignOut,
    CampaignResultsOut,
    CsatAnswerIn,
    CsatOut,
    DimensionResultOut,
    LaunchIn,
)
from kefu.tickets.models import Ticket
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["surveys"])
Reader = Annotated[Principal, Depends(require("reports:read"))]
# Running campaigns messages customers: supervisors and admins (teams:manage), not auditors.
Manager = Annotated[Principal, Depends(require("teams:manage"))]


def _csat_out(db: DB, token: str) -> CsatOut:
    s = service.csat_by_token(db, token)
    brand, ticket = db.get(Brand, s.brand_id), db.get(Ticket, s.ticket_id)
    assert brand is not None and ticket is not None
    return CsatOut(
        brand=brand.name,
        ticket_number=ticket.number,
        answered=s.answered_at is not None,
        expired=utcnow() > s.expires_at,
        rating=s.rating,
    )


@router.get("/surveys/csat/{token}", response_model=CsatOut)
def get_csat(token: str, db: DB) -> CsatOut:
    """Public: the survey behind a link."""
    return _csat_out(db, token)


@router.post("/surveys/csat/{token}", response_model=CsatOut)
def post_csat(token: str, body: CsatAnswerIn, db: DB) -> CsatOut:
    """Public: answer (once) with 1–5 stars and an optional comment."""
    service.answer_csat(db, service.csat_by_token(db, token), body.rating, body.comment)
    return _csat_out(db, token)


@router.get("/surveys/campaign/{token}", response_model=CampaignFormOut)
def get_campaign_form(token: str, db: DB) -> CampaignFormOut:
    """Public: the campaign questionnaire behind a link."""
    r, c = service.recipient_by_token(db, token)
    brand = db.get(Brand, c.brand_id)
    assert brand is not None
    closed = c.status != "running" or (c.closes_at is not None and utcnow() > c.closes_at)
    return CampaignFormOut(
        brand=brand.name, name=c.name, dimensions=c.dimensions, answered=r.answered_at is not None, closed=closed
    )


@router.post("/surveys/campaign/{token}", status_code=204)
def post_campaign_answer(token: str, body: CampaignAnswerIn, db: DB) -> None:
    """Public: answer a campaign once."""
    r, c = service.recipient_by_token(db, token)
    service.answer_campaign(db, r, c, body.scores, body.comment)


@router.get("/survey-campaigns", response_model=list[CampaignOut])
def list_campaigns(db: DB, p: Reader, brand_id: int | None = None) -> list[CampaignOut]:
    """Campaigns of the caller's brands."""
    return [CampaignOut.model_validate(c) for c in service.list_campaigns(db, p, brand_id)]


@router.post("/survey-campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(body: CampaignIn, db: DB, p: Manager) -> CampaignOut:
    """Create a draft campaign."""
    c = service.create_campaign(
        db,
        p,
        brand_id=body.brand_id,
        name=body.name,
        dimensions=[d.model_dump() for d in body.dimensions] if body.dimensions is not None else None,
        active_days=body.active_days,
        message_zh=body.message_zh,
        message_en=body.message_en,
    )
    return CampaignOut.model_validate(c)


@router.post("/survey-campaigns/{campaign_id}/launch", response_model=CampaignResultsOut)
def launch(campaign_id: int, db: DB, p: Manager, body: LaunchIn | None = None) -> CampaignResultsOut:
    """Build the recipient list (customers active in the last N days) and start sending."""
    c = service.get_campaign(db, campaign_id, p)
    service.launch_campaign(db, c, p, closes_in_days=(body or LaunchIn()).closes_in_days)
    return _results(db, c)


@router.post("/survey-campaigns/{campaign_id}/close", response_model=CampaignOut)
def close(campaign_id: int, db: DB, p: Manager) -> CampaignOut:
    """Stop accepting answers."""
    return CampaignOut.model_validate(service.close_campaign(db, service.get_campaign(db, campaign_id, p), p))


@router.get("/survey-campaigns/{campaign_id}", response_model=CampaignResultsOut)
def results(campaign_id: int, db: DB, p: Reader) -> CampaignResultsOut:
    """Reach, response rate and per-dimension results."""
    return _results(db, service.get_campaign(db, campaign_id, p))


def _results(db: DB, c: object) -> CampaignResultsOut:
    from kefu.surveys.models import SurveyCampaign

    assert isinstance(c, SurveyCampaign)
    r = service.campaign_results(db, c)
    return CampaignResultsOut(
        campaign=CampaignOut.model_validate(c),
        invited=r["invited"],
        not_sent=r["not_sent"],
        sent=r["sent"],
        answered=r["answered"],
        response_rate=r["response_rate"],
        dimensions=[DimensionResultOut.model_validate(d) for d in r["dimensions"]],
    )
