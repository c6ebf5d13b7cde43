"""Satisfaction campaigns: recipients active in the last N days, per-dimension answers and exact results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select


def _customer_with_conv(db: Any, make: Any, brand: Any, days_ago: int, channel: str = "line") -> Any:
    from kefu.conversations.models import Conversation
    from kefu.core.db import utcnow

    c = make.customer(brand)
    at = utcnow() - timedelta(days=days_ago)
    db.add(
        Conversation(
            brand_id=brand.id,
            customer_id=c.id,
            channel=channel,
            status="closed",
            created_at=at,
            last_message_at=at,
            updated_at=at,
        )
    )
    db.commit()
    return c


def test_campaign_lifecycle_and_results(db: Any, make: Any, jobs: Any) -> None:
    from kefu.conversations.models import Message
    from kefu.core.errors import Conflict, InvalidInput
    from kefu.surveys import service
    from kefu.surveys.models import CampaignRecipient

    brand = make.brand()
    recent = [_customer_with_conv(db, make, brand, d) for d in (1, 30, 89)]
    _customer_with_conv(db, make, brand, 120)  # inactive for 120 days: not invited
    other = make.brand()
    _customer_with_conv(db, make, other, 1)  # other brand: not invited
    campaign = service.create_campaign(db, None, brand_id=brand.id, name="2026 上半年滿意度調查")
    assert len(campaign.dimensions) == 8
    assert service.launch_campaign(db, campaign, None) == 3
    with pytest.raises(Conflict):
        service.launch_campaign(db, campaign, None)
    assert service.send_campaign_batch(db, campaign) == 3
    assert service.send_campaign_batch(db, campaign) == 0
    db.commit()
    rs = {
        r.customer_id: r
        for r in db.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id))
    }
    assert set(rs) == {c.id for c in recent}
    msg = db.scalar(select(Message).where(Message.conversation_id == rs[recent[0].id].conversation_id))
    assert msg.sender_type == "bot" and "/survey/c/" in msg.body
    # Three answers: quality 5/4/2, price 3/3/-, logistics only from the first.
    a, b, c = (rs[x.id] for x in recent)
    service.answer_campaign(db, a, campaign, {"quality": 5, "price": 3, "logistics": 4})
    service.answer_campaign(db, b, campaign, {"quality": 4, "price": 3})
    service.answer_campaign(db, c, campaign, {"quality": 2}, comment="物流太慢")
    with pytest.raises(Conflict):
        service.answer_campaign(db, a, campaign, {"quality": 1})
    db.commit()
    res = service.campaign_results(db, campaign)
    assert (res["invited"], res["sent"], res["answered"], res["response_rate"]) == (3, 3, 3, 1.0)
    dims = {d.key: d for d in res["dimensions"]}
    q = dims["quality"]
    assert (q.responses, q.average, q.satisfied, q.neutral, q.unsatisfied) == (3, 3.67, 0.6667, 0.0, 0.3333)
    p = dims["price"]
    assert (p.responses, p.average, p.satisfied, p.neutral, p.unsatisfied) == (2, 3.0, 0.0, 1.0, 0.0)
    assert dims["security"].responses == 0 and dims["security"].average is None
    d = make.customer(brand)
    from kefu.surveys.models import CampaignRecipient as R

    extra = R(campaign_id=campaign.id, brand_id=brand.id, customer_id=d.id, locale="zh-TW", comment="")
    db.add(extra)
    db.flush()
    with pytest.raises(InvalidInput):
        service.answer_campaign(db, extra, campaign, {"weather": 5})
    with pytest.raises(InvalidInput):
        service.answer_campaign(db, extra, campaign, {"quality": 9})
    service.close_campaign(db, campaign, None)
    with pytest.raises(Conflict):
        service.answer_campaign(db, extra, campaign, {"quality": 5})


def test_campaign_api_and_public_page(client: Any, db: Any, make: Any, jobs: Any) -> None:
    from kefu.surveys.models import CampaignRecipient
    from kefu.surveys.service import make_token

    brand = make.brand()
    cust = _customer_with_conv(db, make, brand, 3)
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    body = {
        "brand_id": brand.id,
        "name": "Q3 survey",
        "dimensions": [
            {"key": "quality", "label_zh": "品質", "label_en": "Quality"},
            {"key": "price", "label_zh": "價格", "label_en": "Price"},
        ],
    }
    assert client.post("/api/v1/survey-campaigns", json=body, headers=agent).status_code == 403
    r = client.post("/api/v1/survey-campaigns", json=body, headers=sup)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.post(f"/api/v1/survey-campaigns/{cid}/launch", json={"closes_in_days": 7}, headers=sup)
    assert jobs.drain()  # the send job shares the test connection: let it finish first
    assert r.status_code == 200 and r.json()["invited"] == 1
    rec = db.scalar(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid))
    assert rec.customer_id == cust.id and rec.sent_at is not None and rec.channel == "line"
    token = make_token("campaign", rec.id)
    page = client.get(f"/survey/c/{token}")
    assert page.status_code == 200 and "品質" in page.text and 'name="dim_price"' in page.text
    r = client.post(f"/survey/c/{token}", data={"dim_quality": "5", "dim_price": "", "comment": "讚"})
    assert r.status_code == 200 and "感謝您的回饋" in r.text
    assert client.post(f"/api/v1/surveys/campaign/{token}", json={"scores": {"quality": 1}}).status_code == 409
    res = client.get(f"/api/v1/survey-campaigns/{cid}", headers=sup).json()
    assert res["answered"] == 1
    assert {d["key"]: d["average"] for d in res["dimensions"]} == {"quality": 5.0, "price": None}
    other = make.brand()
    outsider = make.token(make.agent("supervisor", [other]))
    assert client.get(f"/api/v1/survey-campaigns/{cid}", headers=outsider).status_code == 404
