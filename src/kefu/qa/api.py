"""QA API: scorecards, daily samples and the review queue (supervisors and admins; auditors read)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.db import utcnow
from kefu.qa import service
from kefu.qa.schemas import ReviewOut, SampleIn, SampleRunOut, ScorecardIn, ScorecardOut, ScoreIn
from kefu.web.routing import Router

router = Router(prefix="/api/v1/qa", tags=["qa"])
Reader = Annotated[Principal, Depends(require("reports:read"))]
Reviewer = Annotated[Principal, Depends(require("teams:manage"))]


@router.get("/scorecards", response_model=list[ScorecardOut])
def scorecards(db: DB, p: Reader, brand_id: int) -> list[ScorecardOut]:
    """A brand's scorecards."""
    return [ScorecardOut.model_validate(s) for s in service.list_scorecards(db, p, brand_id)]


@router.post("/scorecards", response_model=ScorecardOut, status_code=201)
def create_scorecard(body: ScorecardIn, db: DB, p: Reviewer) -> ScorecardOut:
    """Create a scorecard."""
    card = service.create_scorecard(
        db,
        p,
        brand_id=body.brand_id,
        name=body.name,
        criteria=[c.model_dump() for c in body.criteria] if body.criteria else None,
        pass_score=body.pass_score,
        is_default=body.is_default,
    )
    return ScorecardOut.model_validate(card)


@router.post("/samples", response_model=SampleRunOut, status_code=201)
def sample(body: SampleIn, db: DB, p: Reviewer) -> SampleRunOut:
    """Sample a day's closed conversations now (the daily job does this for yesterday)."""
    brand = get_brand(db, body.brand_id, p)
    day = body.day or (utcnow().astimezone(ZoneInfo(brand.timezone)).date() - timedelta(days=1))
    return SampleRunOut.model_validate(service.sample_day(db, brand, day, rate=body.rate))


@router.get("/reviews", response_model=list[ReviewOut])
def reviews(
    db: DB,
    p: Reader,
    brand_id: int | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|done)$")] = "pending",
) -> list[ReviewOut]:
    """The review queue."""
    return [ReviewOut.model_validate(r) for r in service.list_reviews(db, p, brand_id=brand_id, status=status)]


@router.get("/reviews/{review_id}", response_model=ReviewOut)
def review(review_id: int, db: DB, p: Reader) -> ReviewOut:
    """One review."""
    return ReviewOut.model_validate(service.get_review(db, review_id, p))


@router.post("/reviews/{review_id}/score", response_model=ReviewOut)
def score(review_id: int, body: ScoreIn, db: DB, p: Reviewer) -> ReviewOut:
    """Score a sampled conversation."""
    r = service.get_review(db, review_id, p)
    return ReviewOut.model_validate(service.score(db, r, p, body.scores, body.comment, body.scorecard_id))
