"""CSAT after resolution (same channel, within 48 h, one answer per ticket) and multi-dimension campaigns."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, literal, select, union
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.conversations import service as conversations
from kefu.conversations.models import Conversation
from kefu.core import catalog
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.config import get_settings
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.jobs import enqueue
from kefu.customers.models import Customer
from kefu.privacy.service import customer_erased
from kefu.sla import service as sla
from kefu.surveys.consent import DELIVERABLE_CHANNELS, outreach_block
from kefu.surveys.models import CampaignAnswer, CampaignRecipient, CsatSurvey, SurveyCampaign
from kefu.tickets.models import Ticket

SEND_WINDOW = timedelta(hours=48)
ANSWER_WINDOW = timedelta(days=30)
COMMENT_MAX = 2000
DEFAULT_DIMENSIONS: list[dict[str, str]] = [
    {"key": "quality", "label_zh": "服務品質", "label_en": "Service quality"},
    {"key": "speed", "label_zh": "回應速度", "label_en": "Response speed"},
    {"key": "attitude", "label_zh": "服務態度", "label_en": "Staff attitude"},
    {"key": "product", "label_zh": "產品品質", "label_en": "Product quality"},
    {"key": "price", "label_zh": "價格", "label_en": "Price"},
    {"key": "logistics", "label_zh": "物流配送", "label_en": "Logistics"},
    {"key": "security", "label_zh": "資訊安全與個資保護", "label_en": "Security and privacy"},
    {"key": "convenience", "label_zh": "購物便利性", "label_en": "Convenience"},
]

# --------------------------------------------------------------------------- signed tokens


def _sig(kind: str, ident: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"kefu-survey:{kind}:{ident}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def make_token(kind: str, ident: int, secret: str | None = None) -> str:
    """A URL token `<id>.<hmac>`: unguessable without the secret, no login needed."""
    return f"{ident}.{_sig(kind, ident, secret or get_settings().secret_key)}"


def read_token(kind: str, token: str, secret: str | None = None) -> int | None:
    """The id inside a valid token, else None."""
    ident, _, sig = token.partition(".")
    if not ident.isdigit() or len(ident) > 18 or not sig:
        return None
    expected = _sig(kind, int(ident), secret or get_settings().secret_key)
    return int(ident) if hmac.compare_digest(sig.encode(), expected.encode()) else None


def survey_url(path: str) -> str:
    """Absolute public link."""
    return get_settings().base_url.rstrip("/") + path


def _locale(customer: Customer | None, brand: Brand) -> str:
    loc = (customer.locale if customer else None) or brand.default_locale or "zh-TW"
    if loc.lower().startswith("en"):
        return "en"
    return "zh-CN" if loc.lower() in ("zh-cn", "zh-hans", "zh-sg") else "zh-TW"


# --------------------------------------------------------------------------- CSAT


def due_tickets(session: Session, now: datetime | None = None, limit: int = 200) -> list[Ticket]:
    """Resolved tickets still inside the 48 h window, with a conversation to answer on and no survey yet."""
    now = now or utcnow()
    stmt = (
        select(Ticket)
        .where(
            Ticket.status.in_(("resolved", "closed")),
            Ticket.resolved_at.is_not(None),
            Ticket.resolved_at >= now - SEND_WINDOW,
            Ticket.resolved_at <= now,
            Ticket.merged_into_id.is_(None),
            ~exists(select(CsatSurvey.id).where(CsatSurvey.ticket_id == Ticket.id)),
            exists(select(Conversation.id).where(Conversation.ticket_id == Ticket.id)),
        )
        .order_by(Ticket.resolved_at, Ticket.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def send_csat(session: Session, ticket: Ticket, now: datetime | None = None) -> CsatSurvey | None:
    """Queue the survey message into the ticket's latest conversation (same channel); None if not possible."""
    now = now or utcnow()
    if ticket.resolved_at is None or session.scalar(select(CsatSurvey.id).where(CsatSurvey.ticket_id == ticket.id)):
        return None
    conv = session.scalar(
        select(Conversation)
        .where(Conversation.ticket_id == ticket.id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if conv is None:
        return None
    brand = session.get(Brand, ticket.brand_id)
    assert brand is not None
    customer = session.get(Customer, conv.customer_id)
    locale = _locale(customer, brand)
    survey = CsatSurvey(
        brand_id=ticket.brand_id,
        ticket_id=ticket.id,
        conversation_id=conv.id,
        customer_id=conv.customer_id,
        organization_id=ticket.organization_id,
        agent_id=ticket.assignee_id,
        channel=conv.channel,
        locale=locale,
        resolved_at=ticket.resolved_at,
        sent_at=now,
        expires_at=now + ANSWER_WINDOW,
    )
    session.add(survey)
    session.flush()
    url = survey_url(f"/survey/{make_token('csat', survey.id)}?lang={locale}")
    msg, _ = conversations.add_message(
        session,
        conv,
        sender_type="bot",
        body=catalog.gettext("survey_invite_csat", locale).format(number=ticket.number, url=url),
        meta={"survey": {"kind": "csat", "id": survey.id, "url": url}},
        created_at=now,
    )
    survey.message_id = msg.id
    sla.mark_survey_sent(session, ticket, now)
    record(
        session,
        None,
        "survey.csat_sent",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"survey_id": survey.id, "channel": conv.channel},
    )
    publish(
        session,
        "survey.sent",
        {"survey_id": survey.id, "ticket_id": ticket.id, "conversation_id": conv.id},
        (f"brand:{ticket.brand_id}",),
    )
    return survey


def send_due_csat(session: Session, now: datetime | None = None, limit: int = 200) -> int:
    """Send every due CSAT survey (one batch); returns how many went out."""
    sent = 0
    for ticket in due_tickets(session, now, limit):
        if send_csat(session, ticket, now) is not None:
            sent += 1
    return sent


def csat_by_token(session: Session, token: str) -> CsatSurvey:
    """The survey behind a public link (404 for forged or unknown tokens)."""
    ident = read_token("csat", token)
    survey = session.get(CsatSurvey, ident) if ident is not None else None
    if survey is None or customer_erased(session, survey.customer_id):
        raise NotFound.said("err_surveys_not_found")
    return survey


def csat_page(session: Session, token: str) -> tuple[CsatSurvey, Brand, str]:
    """What the public CSAT page shows: the survey, its brand and the ticket number (404 for a bad token)."""
    survey = csat_by_token(session, token)
    brand, ticket = session.get(Brand, survey.brand_id), session.get(Ticket, survey.ticket_id)
    assert brand is not None and ticket is not None  # foreign keys, deleted together
    return survey, brand, ticket.number


def answer_csat(
    session: Session, survey: CsatSurvey, rating: int, comment: str = "", now: datetime | None = None
) -> CsatSurvey:
    """Record the one answer a ticket may get."""
    now = now or utcnow()
    if not 1 <= rating <= 5:
        raise InvalidInput.said("uix_csat_rating")
    if len(comment) > COMMENT_MAX:
        raise InvalidInput.said("uix_comment_max", max=COMMENT_MAX)
    if survey.answered_at is not None:
        raise Conflict.said("err_surveys_already_answered")
    if now > survey.expires_at:
        raise Conflict.said("err_surveys_expired").also(expired=True)
    survey.rating = rating
    survey.comment = comment.strip()
    survey.answered_at = now
    session.flush()
    record(
        session,
        None,
        "survey.csat_answered",
        target_type="ticket",
        target_id=survey.ticket_id,
        brand_id=survey.brand_id,
        details={"survey_id": survey.id, "rating": rating},
        actor_type="customer",
        actor_label=f"customer:{survey.customer_id}",
    )
    publish(
        session,
        "survey.answered",
        {"survey_id": survey.id, "ticket_id": survey.ticket_id, "rating": rating, "agent_id": survey.agent_id},
        (f"brand:{survey.brand_id}",),
    )
    return survey


# --------------------------------------------------------------------------- campaigns


def _check_dimensions(dims: list[dict[str, Any]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for d in dims:
        key = str(d.get("key", "")).strip()
        if not key or len(key) > 64 or key in seen:
            raise InvalidInput.said("err_surveys_dimension_key", key=key)
        seen.add(key)
        out.append({"key": key, "label_zh": str(d.get("label_zh") or key), "label_en": str(d.get("label_en") or key)})
    if not out:
        raise InvalidInput.said("err_surveys_needs_dimension")
    return out


def create_campaign(
    session: Session,
    actor: Principal | None,
    *,
    brand_id: int,
    name: str,
    dimensions: list[dict[str, Any]] | None = None,
    active_days: int = 90,
    message_zh: str = "",
    message_en: str = "",
) -> SurveyCampaign:
    """A draft campaign (default: the eight standard dimensions, customers active in the last 90 days)."""
    get_brand(session, brand_id, actor)
    if not 1 <= active_days <= 3650:
        raise InvalidInput.said("err_surveys_active_days_range")
    campaign = SurveyCampaign(
        brand_id=brand_id,
        name=name,
        dimensions=_check_dimensions(dimensions if dimensions is not None else DEFAULT_DIMENSIONS),
        active_days=active_days,
        message_zh=message_zh,
        message_en=message_en,
        created_by=actor.agent_id if actor else None,
    )
    session.add(campaign)
    session.flush()
    record(
        session,
        actor,
        "survey.campaign_create",
        target_type="survey_campaign",
        target_id=campaign.id,
        brand_id=brand_id,
        details={"name": name},
    )
    return campaign


def get_campaign(session: Session, campaign_id: int, actor: Principal | None) -> SurveyCampaign:
    """Campaign by id (404 for other brands)."""
    c = get_in_brand(session, SurveyCampaign, campaign_id, actor, "Campaign")
    return c


def list_campaigns(session: Session, actor: Principal | None, brand_id: int | None = None) -> list[SurveyCampaign]:
    """Campaigns newest first."""
    stmt = scope_to_brands(select(SurveyCampaign), SurveyCampaign.brand_id, actor)
    if brand_id is not None:
        stmt = stmt.where(SurveyCampaign.brand_id == brand_id)
    return list(session.scalars(stmt.order_by(SurveyCampaign.id.desc()).limit(200)))


def launch_campaign(
    session: Session,
    campaign: SurveyCampaign,
    actor: Principal | None,
    *,
    now: datetime | None = None,
    closes_in_days: int = 14,
) -> int:
    """Invite every customer active (a conversation or ticket) in the last `active_days`; returns recipients."""
    if campaign.status != "draft":
        raise Conflict.said("err_surveys_launch_only_draft")
    now = now or utcnow()
    since = now - timedelta(days=campaign.active_days)
    active = union(
        select(Conversation.customer_id.label("cid")).where(
            Conversation.brand_id == campaign.brand_id, Conversation.last_message_at >= since
        ),
        select(Ticket.customer_id.label("cid")).where(
            Ticket.brand_id == campaign.brand_id, Ticket.customer_id.is_not(None), Ticket.updated_at >= since
        ),
    ).subquery()
    eligible = (
        select(
            literal(campaign.id),
            literal(campaign.brand_id),
            Customer.id,
            func.coalesce(Customer.locale, literal("zh-TW")),
            literal(""),
        )
        .where(Customer.id.in_(select(active.c.cid)), Customer.merged_into_id.is_(None))
        .order_by(Customer.id)
    )
    # insert-from-select: the recipient list is built inside the database, whatever its size.
    session.execute(
        insert(CampaignRecipient).from_select(["campaign_id", "brand_id", "customer_id", "locale", "comment"], eligible)
    )
    n = int(
        session.scalar(select(func.count(CampaignRecipient.id)).where(CampaignRecipient.campaign_id == campaign.id))
        or 0
    )
    campaign.status = "running"
    campaign.launched_at = now
    campaign.closes_at = now + timedelta(days=closes_in_days)
    session.flush()
    record(
        session,
        actor,
        "survey.campaign_launch",
        target_type="survey_campaign",
        target_id=campaign.id,
        brand_id=campaign.brand_id,
        details={"recipients": n},
    )
    enqueue(session, "surveys.campaign_send", {"campaign_id": campaign.id})
    return n


def send_campaign_batch(session: Session, campaign: SurveyCampaign, limit: int = 200) -> int:
    """Message the next unsent recipients on their latest conversation; returns how many were handled."""
    brand = session.get(Brand, campaign.brand_id)
    assert brand is not None
    recipients = list(
        session.scalars(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.sent_at.is_(None),
                CampaignRecipient.channel.is_(None),
            )
            .order_by(CampaignRecipient.id)
            .limit(limit)
        )
    )
    if not recipients:
        return 0
    latest = dict(
        session.execute(
            select(Conversation.customer_id, func.max(Conversation.id))
            .where(
                Conversation.customer_id.in_([r.customer_id for r in recipients]),
                Conversation.channel.in_(DELIVERABLE_CHANNELS),  # a board post or phone log cannot carry it
            )
            .group_by(Conversation.customer_id)
        ).all()
    )
    now = utcnow()
    for r in recipients:
        conv = session.get(Conversation, latest[r.customer_id]) if r.customer_id in latest else None
        blocked = outreach_block(session, r.customer_id, brand, conv)
        if blocked is not None or conv is None:
            # Not sent (no consent, or no channel that reaches them); kept so results show the reach.
            r.channel = "none" if blocked == "unreachable" else str(blocked)
            continue
        loc = _locale(session.get(Customer, r.customer_id), brand)
        url = survey_url(f"/survey/c/{make_token('campaign', r.id)}?lang={loc}")
        custom = campaign.message_en if loc == "en" else campaign.message_zh
        body = (
            (custom + " " + url)
            if custom
            else catalog.gettext("survey_invite_campaign", loc).format(brand=brand.name, url=url)
        )
        conversations.add_message(
            session,
            conv,
            sender_type="bot",
            body=body,
            meta={"survey": {"kind": "campaign", "campaign_id": campaign.id, "recipient_id": r.id, "url": url}},
        )
        r.conversation_id, r.channel, r.locale, r.sent_at = conv.id, conv.channel, loc, now
    session.flush()
    return len(recipients)


def close_campaign(session: Session, campaign: SurveyCampaign, actor: Principal | None) -> SurveyCampaign:
    """Stop accepting answers."""
    campaign.status = "closed"
    campaign.closes_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "survey.campaign_close",
        target_type="survey_campaign",
        target_id=campaign.id,
        brand_id=campaign.brand_id,
    )
    return campaign


def recipient_by_token(session: Session, token: str) -> tuple[CampaignRecipient, SurveyCampaign]:
    """The invitation behind a public link."""
    ident = read_token("campaign", token)
    r = session.get(CampaignRecipient, ident) if ident is not None else None
    # An erased customer's invitation answers as a forged one: an answer would store text the erasure never sees.
    if r is None or customer_erased(session, r.customer_id):
        raise NotFound.said("err_surveys_not_found")
    c = session.get(SurveyCampaign, r.campaign_id)
    assert c is not None
    return r, c


def campaign_page(session: Session, token: str) -> tuple[CampaignRecipient, SurveyCampaign, Brand]:
    """What the public campaign page shows: the invitation, its campaign and brand (404 for a bad token)."""
    recipient, campaign = recipient_by_token(session, token)
    brand = session.get(Brand, campaign.brand_id)
    assert brand is not None
    return recipient, campaign, brand


def answer_campaign(
    session: Session,
    recipient: CampaignRecipient,
    campaign: SurveyCampaign,
    scores: dict[str, int],
    comment: str = "",
    now: datetime | None = None,
) -> CampaignRecipient:
    """Store one recipient's 1–5 scores per dimension (once)."""
    now = now or utcnow()
    if campaign.status != "running" or (campaign.closes_at is not None and now > campaign.closes_at):
        raise Conflict.said("err_surveys_closed").also(expired=True)
    if recipient.answered_at is not None:
        raise Conflict.said("err_surveys_already_answered")
    keys = {d["key"] for d in campaign.dimensions}
    unknown = set(scores) - keys
    if unknown:
        raise InvalidInput.said("uix_unknown_dims", names=", ".join(sorted(unknown)))
    if not scores:
        raise InvalidInput.said("uix_score_one")
    if any(not 1 <= int(v) <= 5 for v in scores.values()):
        raise InvalidInput.said("uix_scores_range")
    if len(comment) > COMMENT_MAX:
        raise InvalidInput.said("uix_comment_max", max=COMMENT_MAX)
    session.add_all(
        CampaignAnswer(campaign_id=campaign.id, recipient_id=recipient.id, dimension=k, score=int(v))
        for k, v in scores.items()
    )
    recipient.answered_at = now
    recipient.comment = comment.strip()
    session.flush()
    publish(
        session,
        "survey.campaign_answered",
        {"campaign_id": campaign.id, "recipient_id": recipient.id},
        (f"brand:{campaign.brand_id}",),
    )
    return recipient


@dataclass(frozen=True)
class DimensionResult:
    """Aggregates of one dimension."""

    key: str
    label_zh: str
    label_en: str
    responses: int
    average: float | None
    satisfied: float | None  # share of 4–5
    neutral: float | None  # share of 3
    unsatisfied: float | None  # share of 1–2


def campaign_results(session: Session, campaign: SurveyCampaign) -> dict[str, Any]:
    """Reach, response rate and per-dimension averages and satisfied/neutral/unsatisfied shares (SQL aggregates)."""
    r = CampaignRecipient
    invited, sent, answered = session.execute(
        select(
            func.count(r.id),
            func.count(r.sent_at),
            func.count(r.answered_at),
        ).where(r.campaign_id == campaign.id)
    ).one()
    a = CampaignAnswer
    rows = {
        str(dim): (int(n), s, int(hi), int(mid), int(lo))
        for dim, n, s, hi, mid, lo in session.execute(
            select(
                a.dimension,
                func.count(a.id),
                func.sum(a.score),
                func.sum(case((a.score >= 4, 1), else_=0)),
                func.sum(case((a.score == 3, 1), else_=0)),
                func.sum(case((a.score <= 2, 1), else_=0)),
            )
            .where(a.campaign_id == campaign.id)
            .group_by(a.dimension)
        ).all()
    }
    dims: list[DimensionResult] = []
    for d in campaign.dimensions:
        n, s, hi, mid, lo = rows.get(d["key"], (0, None, 0, 0, 0))
        dims.append(
            DimensionResult(
                key=d["key"],
                label_zh=d["label_zh"],
                label_en=d["label_en"],
                responses=n,
                average=round(float(s) / n, 2) if n else None,
                satisfied=round(hi / n, 4) if n else None,
                neutral=round(mid / n, 4) if n else None,
                unsatisfied=round(lo / n, 4) if n else None,
            )
        )
    not_sent = {
        str(channel): int(n)
        for channel, n in session.execute(
            select(r.channel, func.count(r.id))
            .where(r.campaign_id == campaign.id, r.sent_at.is_(None), r.channel.in_(("none", "no_consent")))
            .group_by(r.channel)
        ).all()
    }
    return {
        "invited": int(invited),
        "not_sent": {"unreachable": not_sent.get("none", 0), "no_consent": not_sent.get("no_consent", 0)},
        "sent": int(sent),
        "answered": int(answered),
        "response_rate": round(int(answered) / int(sent), 4) if sent else None,
        "dimensions": dims,
    }
