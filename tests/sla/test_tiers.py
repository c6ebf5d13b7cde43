"""Service tiers (#17): every brand has a documented default tier, so ordinary tickets get a reply deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.web.test_admin_pages import _login


def _due(client: Any, h: dict[str, str], ticket_id: int) -> tuple[str, datetime, datetime]:
    sla = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=h).json()
    frt = next(t for t in sla["targets"] if t["key"] == "first_response")
    return sla["policy_name"], datetime.fromisoformat(frt["started_at"]), datetime.fromisoformat(frt["due_at"])


def test_default_tier_gives_ordinary_tickets_a_reply_deadline_and_admin_can_change_it(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.brands.models import Brand
    from kefu.sla.calendar import default_calendars

    brand = make.brand()
    admin = make.agent("admin")
    h = make.token(admin)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    tiers = client.get("/api/v1/sla/tiers", params={"brand_id": brand.id}, headers=h).json()
    assert tiers["current"] == tiers["default"] == "standard" and "ecommerce_b2c" in tiers["tiers"]

    t = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "想了解會員點數"}, headers=h).json()
    policy, start, due = _due(client, h, t["id"])
    business = default_calendars()["business"]
    assert policy == "standard" and due == business.add_business_minutes(start, 8 * 60)

    # Other settings survive a PATCH of the tier; an unknown tier is refused.
    assert client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"auto_close_days": 3}}, headers=h).is_success
    r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"sla_tier": "ecommerce_b2c"}}, headers=h)
    assert r.status_code == 200
    db.expire_all()
    assert db.get(Brand, brand.id).settings == {"auto_close_days": 3, "sla_tier": "ecommerce_b2c"}
    bad = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"sla_tier": "gold"}}, headers=h)
    assert bad.status_code == 422 and "sla_tier" in bad.json()["detail"]
    t2 = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "想了解會員點數"}, headers=h).json()
    policy, start, due = _due(client, h, t2["id"])
    assert policy == "ecommerce.b2c" and due == business.add_business_minutes(start, 4 * 60)

    # The admin page offers the tiers and saves the choice.
    client.headers.pop("Authorization", None)
    hdr = _login(client, admin)
    page = client.get("/admin?tab=brands")
    assert page.status_code == 200 and 'name="sla_tier"' in page.text and "1 個工作天內回覆" in page.text
    form = {
        "name": brand.name,
        "default_locale": "zh-TW",
        "timezone": "Asia/Taipei",
        "tier_level_0": "1",
        "tier_name_0": "一般",
        "tier_min_0": "0",
        "sla_tier": "standard",
    }
    assert client.post(f"/admin/brands/{brand.id}", data=form, headers=hdr).status_code == 200
    db.expire_all()
    assert db.get(Brand, brand.id).settings["sla_tier"] == "standard"
    assert datetime.now(UTC) > start
