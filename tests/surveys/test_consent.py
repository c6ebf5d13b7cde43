"""Outreach consent and honest campaign counts (#17)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.surveys.test_campaigns import _customer_with_conv


def test_campaign_skips_withdrawn_consent_and_undeliverable_channels(
    client: Any, db: Any, make: Any, jobs: Any
) -> None:
    from kefu.conversations.models import Message
    from kefu.surveys.models import CampaignRecipient

    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    reachable = _customer_with_conv(db, make, brand, 3, channel="email")
    withdrew = _customer_with_conv(db, make, brand, 3, channel="email")
    board_only = _customer_with_conv(db, make, brand, 3, channel="board")
    phone_only = _customer_with_conv(db, make, brand, 3, channel="phone")
    every = {"tracking": False, "personalization": False, "secondary_use": False, "source": "customer"}
    r = client.put(f"/api/v1/customers/{withdrew.id}/consents", json=every, headers=sup)
    assert r.status_code == 200, r.text

    body = {
        "brand_id": brand.id,
        "name": "年度滿意度",
        "dimensions": [{"key": "q", "label_zh": "品質", "label_en": "Q"}],
    }
    cid = client.post("/api/v1/survey-campaigns", json=body, headers=sup).json()["id"]
    r = client.post(f"/api/v1/survey-campaigns/{cid}/launch", json={"closes_in_days": 7}, headers=sup)
    assert jobs.drain()
    assert r.status_code == 200 and r.json()["invited"] == 4

    res = client.get(f"/api/v1/survey-campaigns/{cid}", headers=sup).json()
    assert res["sent"] == 1 and res["not_sent"] == {"unreachable": 2, "no_consent": 1}
    recs = {r.customer_id: r for r in db.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == cid))}
    assert recs[reachable.id].sent_at is not None
    for c in (withdrew, board_only, phone_only):
        assert recs[c.id].sent_at is None and recs[c.id].conversation_id is None
    surveyed = db.scalars(select(Message.conversation_id).where(Message.body.like("%/survey/c/%"))).all()
    assert len(surveyed) == 1  # nothing reached the customer who withdrew consent


def test_opt_in_brands_need_an_explicit_grant(client: Any, db: Any, make: Any, jobs: Any) -> None:
    brand = make.brand()
    admin = make.token(make.agent("admin"))
    r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"outreach_consent": "opt_in"}}, headers=admin)
    assert r.status_code == 200, r.text
    never_asked = _customer_with_conv(db, make, brand, 3, channel="line")
    granted = _customer_with_conv(db, make, brand, 3, channel="line")
    r = client.put(
        f"/api/v1/customers/{granted.id}/consents", json={"secondary_use": True, "source": "customer"}, headers=admin
    )
    assert r.status_code == 200, r.text
    body = {"brand_id": brand.id, "name": "opt-in", "dimensions": [{"key": "q", "label_zh": "品質", "label_en": "Q"}]}
    cid = client.post("/api/v1/survey-campaigns", json=body, headers=admin).json()["id"]
    client.post(f"/api/v1/survey-campaigns/{cid}/launch", json={"closes_in_days": 7}, headers=admin)
    assert jobs.drain()
    res = client.get(f"/api/v1/survey-campaigns/{cid}", headers=admin).json()
    assert res["sent"] == 1 and res["not_sent"]["no_consent"] == 1 and never_asked.id != granted.id
