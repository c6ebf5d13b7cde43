"""QA: sample a random share of yesterday's closed conversations, score them on weighted scorecards."""

from __future__ import annotations

import logging
import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.conversations.models import Conversation, Message
from kefu.core.access import ensure_brand, get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.customers.models import Customer
from kefu.qa.models import QaReview, QaSampleRun, QaScorecard

log = logging.getLogger(__name__)
DEFAULT_RATE = 0.05
ACCURACY = "accuracy"
DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {"key": ACCURACY, "label_zh": "答覆正確性", "label_en": "Accuracy", "weight": 40, "max": 5, "pass_mark": 4},
    {
        "key": "compliance",
        "label_zh": "流程與法規遵循",
        "label_en": "Compliance",
        "weight": 25,
        "max": 5,
        "pass_mark": 4,
    },
    {"key": "tone", "label_zh": "語氣與禮貌", "label_en": "Tone", "weight": 20, "max": 5, "pass_mark": 3},
    {"key": "efficiency", "label_zh": "處理效率", "label_en": "Efficiency", "weight": 15, "max": 5, "pass_mark": 3},
]


def check_rate(value: object) -> float:
    """A brand's daily sample share (``settings["qa_sample_rate"]``): a number in (0, 1], e.g. 0.05 for 5 %."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise InvalidInput.said("err_qa_sample_rate_range")
    return float(value)


def brand_rate(brand: Brand) -> float:
    """The share sampled each day for this brand (its setting, else 5 %)."""
    return float((brand.settings or {}).get("qa_sample_rate", DEFAULT_RATE))


def _check_criteria(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    keys: set[str] = set()
    for c in criteria:
        key = str(c.get("key", "")).strip()
        weight, top = float(c.get("weight", 1)), int(c.get("max", 5))
        mark = float(c.get("pass_mark", top))
        if not key or key in keys or weight <= 0 or top < 1 or not 0 <= mark <= top:
            raise InvalidInput.said("err_qa_bad_criterion", key=key)
        keys.add(key)
        out.append(
            {
                "key": key,
                "label_zh": str(c.get("label_zh") or key),
                "label_en": str(c.get("label_en") or key),
                "weight": weight,
                "max": top,
                "pass_mark": mark,
            }
        )
    if not out:
        raise InvalidInput.said("err_qa_needs_criterion")
    return out


def create_scorecard(
    session: Session,
    actor: Principal | None,
    *,
    brand_id: int,
    name: str,
    criteria: list[dict[str, Any]] | None = None,
    pass_score: float = 80.0,
    is_default: bool = False,
) -> QaScorecard:
    """A scorecard; the brand's default one is used when a review does not name one."""
    from kefu.brands.service import get_brand

    get_brand(session, brand_id, actor)  # 404 for unknown or foreign brands (not a database error)
    if not 0 <= pass_score <= 100:
        raise InvalidInput.said("err_qa_pass_score_range")
    if session.scalar(select(QaScorecard.id).where(QaScorecard.brand_id == brand_id, QaScorecard.name == name)):
        raise Conflict.said("err_qa_scorecard_exists", name=name)
    if is_default:
        for sc in session.scalars(select(QaScorecard).where(QaScorecard.brand_id == brand_id)):
            sc.is_default = False
    card = QaScorecard(
        brand_id=brand_id,
        name=name,
        criteria=_check_criteria(criteria or DEFAULT_CRITERIA),
        pass_score=pass_score,
        is_default=is_default,
    )
    session.add(card)
    session.flush()
    record(session, actor, "qa.scorecard_create", target_type="qa_scorecard", target_id=card.id, brand_id=brand_id)
    return card


def default_scorecard(session: Session, brand_id: int) -> QaScorecard:
    """The brand's default scorecard, created with the standard criteria on first use."""
    card = session.scalar(
        select(QaScorecard)
        .where(QaScorecard.brand_id == brand_id, QaScorecard.is_active.is_(True))
        .order_by(QaScorecard.is_default.desc(), QaScorecard.id)
        .limit(1)
    )
    return card or create_scorecard(session, None, brand_id=brand_id, name="標準評分表", is_default=True)


def list_scorecards(session: Session, actor: Principal | None, brand_id: int) -> list[QaScorecard]:
    """Scorecards of a brand."""
    ensure_brand(actor, brand_id, "Brand")
    return list(session.scalars(select(QaScorecard).where(QaScorecard.brand_id == brand_id).order_by(QaScorecard.id)))


def _day_window(brand: Brand, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(brand.timezone or "Asia/Taipei")
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def sample_day(
    session: Session, brand: Brand, day: date, *, rate: float | None = None, rng: random.Random | None = None
) -> QaSampleRun:
    """Queue ceil(rate × N) random conversations closed on `day` (brand-local) for review; once per day."""
    existing = session.scalar(select(QaSampleRun).where(QaSampleRun.brand_id == brand.id, QaSampleRun.day == str(day)))
    if existing is not None:
        return existing
    rate = check_rate(rate if rate is not None else brand_rate(brand))
    start, end = _day_window(brand, day)
    # A closed conversation's last change is its closing, so updated_at places it on the day it closed.
    ids = list(
        session.scalars(
            select(Conversation.id)
            .where(
                Conversation.brand_id == brand.id,
                Conversation.status == "closed",
                Conversation.updated_at >= start,
                Conversation.updated_at < end,
                Conversation.id.not_in(select(QaReview.conversation_id)),
            )
            .order_by(Conversation.id)
        )
    )
    k = min(len(ids), math.ceil(rate * len(ids))) if ids else 0
    picked = sorted((rng or random.SystemRandom()).sample(ids, k))
    run = QaSampleRun(brand_id=brand.id, day=str(day), rate=rate, population=len(ids), sampled=k)
    session.add(run)
    session.flush()
    convs = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(picked)))}
    for cid in picked:
        c = convs[cid]
        session.add(
            QaReview(
                brand_id=brand.id, run_id=run.id, conversation_id=cid, ticket_id=c.ticket_id, agent_id=c.assignee_id
            )
        )
    session.flush()
    record(
        session,
        None,
        "qa.sample",
        target_type="qa_sample_run",
        target_id=run.id,
        brand_id=brand.id,
        details={"day": str(day), "population": len(ids), "sampled": k},
    )
    publish(session, "qa.sampled", {"brand_id": brand.id, "day": str(day), "sampled": k}, (f"brand:{brand.id}",))
    return run


def sample_yesterday(
    session: Session, now: datetime | None = None, rng: random.Random | None = None
) -> list[QaSampleRun]:
    """Run the daily sample for every brand (yesterday in each brand's timezone)."""
    now = now or utcnow()
    runs = []
    for brand in session.scalars(select(Brand).order_by(Brand.id)):
        today = now.astimezone(ZoneInfo(brand.timezone or "Asia/Taipei")).date()
        try:
            runs.append(sample_day(session, brand, today - timedelta(days=1), rng=rng))
        except InvalidInput:
            # A rate stored before it was validated must not stop every other brand's sample: that brand is skipped.
            log.warning("qa sample skipped: brand %s has an invalid qa_sample_rate", brand.id)
    return runs


def recent_runs(session: Session, actor: Principal | None, *, limit: int = 14) -> list[dict[str, Any]]:
    """The latest daily samples of the brands the actor sees: day, brand, closed conversations, share, sampled."""
    stmt = scope_to_brands(
        select(QaSampleRun, Brand.name).join(Brand, Brand.id == QaSampleRun.brand_id), QaSampleRun.brand_id, actor
    )
    rows = session.execute(stmt.order_by(QaSampleRun.day.desc(), QaSampleRun.brand_id).limit(limit))
    return [
        {
            "day": date.fromisoformat(run.day),  # a calendar day, written per locale by the page
            "brand": name,
            "percent": round(run.rate * 100, 2),
            "population": run.population,
            "sampled": run.sampled,
        }
        for run, name in rows
    ]


def get_review(session: Session, review_id: int, actor: Principal | None) -> QaReview:
    """A review (404 for other brands)."""
    r = get_in_brand(session, QaReview, review_id, actor, "Review")
    return r


def list_reviews(
    session: Session,
    actor: Principal | None,
    *,
    brand_id: int | None = None,
    status: str | None = "pending",
    limit: int = 100,
) -> list[QaReview]:
    """The review queue (oldest first)."""
    stmt = scope_to_brands(select(QaReview), QaReview.brand_id, actor)
    if brand_id is not None:
        stmt = stmt.where(QaReview.brand_id == brand_id)
    if status:
        stmt = stmt.where(QaReview.status == status)
    return list(session.scalars(stmt.order_by(QaReview.id).limit(limit)))


def review_items(session: Session, reviews: list[QaReview], transcript: int = 60) -> list[dict[str, Any]]:
    """Each review with its conversation, customer, agent, first `transcript` public messages and the scorecard.

    Conversations, customers, agents and scorecards are loaded once for the whole queue; only the transcripts are
    one query per review (each is its own LIMIT).
    """
    if not reviews:
        return []
    convs = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.id.in_({r.conversation_id for r in reviews})))
    }
    customer_ids = {c.customer_id for c in convs.values()}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
    agent_ids = {r.agent_id for r in reviews if r.agent_id}
    agents = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))} if agent_ids else {}
    cards: dict[int, QaScorecard] = {}
    items = []
    for r in reviews:
        conv = convs[r.conversation_id]
        if r.brand_id not in cards:
            cards[r.brand_id] = default_scorecard(session, r.brand_id)
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.id)
            .limit(transcript)
        )
        items.append(
            {
                "review": r,
                "conv": conv,
                "customer": customers.get(conv.customer_id),
                "agent": agents.get(r.agent_id) if r.agent_id else None,
                "messages": list(messages),
                "card": cards[r.brand_id],
            }
        )
    return items


def score(
    session: Session,
    review: QaReview,
    actor: Principal | None,
    scores: dict[str, float],
    comment: str = "",
    scorecard_id: int | None = None,
) -> QaReview:
    """Score every criterion; total = weighted percentage, passed = total ≥ pass_score, accuracy by its mark."""
    missing = "err_qa_scorecard_not_found"
    if scorecard_id:
        card: QaScorecard | None = ref_in_brand(session, QaScorecard, scorecard_id, review.brand_id, missing, NotFound)
    else:
        card = default_scorecard(session, review.brand_id)
    if card is None:
        raise NotFound.said(missing)
    criteria = {c["key"]: c for c in card.criteria}
    # Writes always store weighted criteria; a stored card without any (an older row, a hand edit) is refused here
    # in words, not divided by.
    if not criteria or sum(float(c["weight"]) for c in criteria.values()) <= 0:
        raise InvalidInput.said("err_qa_scorecard_empty", name=card.name)
    if set(scores) != set(criteria):
        raise InvalidInput.said("err_qa_score_these", criteria=", ".join(criteria))
    weights = sum(float(c["weight"]) for c in criteria.values())
    total = 0.0
    for key, c in criteria.items():
        v = float(scores[key])
        if not 0 <= v <= float(c["max"]):
            raise InvalidInput.said("err_qa_score_range", key=key, max=c["max"])
        total += float(c["weight"]) * v / float(c["max"])
    review.scorecard_id = card.id
    review.scores = {k: float(v) for k, v in scores.items()}
    review.total = round(100 * total / weights, 2)
    review.passed = review.total >= card.pass_score
    acc = criteria.get(ACCURACY)
    review.accuracy_passed = float(scores[ACCURACY]) >= float(acc["pass_mark"]) if acc else review.passed
    review.comment = comment.strip()
    review.status = "done"
    review.reviewer_id = actor.agent_id if actor else None
    review.reviewed_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "qa.review",
        target_type="qa_review",
        target_id=review.id,
        brand_id=review.brand_id,
        details={"total": review.total, "passed": review.passed},
    )
    publish(
        session,
        "qa.reviewed",
        {"review_id": review.id, "total": review.total, "passed": review.passed},
        (f"brand:{review.brand_id}",),
    )
    return review


def queue_counts(session: Session, brand_ids: tuple[int, ...]) -> dict[str, int]:
    """Pending and done reviews."""
    rows = session.execute(
        select(QaReview.status, func.count(QaReview.id))
        .where(QaReview.brand_id.in_(brand_ids))
        .group_by(QaReview.status)
    ).all()
    return {"pending": 0, "done": 0} | {str(s): int(n) for s, n in rows}
