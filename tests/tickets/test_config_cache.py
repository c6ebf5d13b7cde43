"""Per-process configuration cache (kefu.core.configcache): reused while unchanged, invalidated at once on change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from kefu.tickets.commands import CreateCategory


def test_category_keys_are_cached_and_a_change_applies_at_the_next_read(db: Any, make: Any, count_queries: Any) -> None:
    from kefu.tickets.service import active_category_keys, create_category, update_category

    brand = make.brand()
    create_category(
        db, CreateCategory(brand_id=brand.id, key="billing", label_zh="帳務", label_en="Billing"), actor=None
    )
    db.commit()
    assert active_category_keys(db, brand.id) == {"billing"}
    db.commit()
    with count_queries() as q:
        assert active_category_keys(db, brand.id) == {"billing"}
        assert active_category_keys(db, brand.id) == {"billing"}
    assert q.count == 1, str(q)  # the brand's version token, once per transaction; the keys come from the cache
    db.commit()
    row = create_category(
        db, CreateCategory(brand_id=brand.id, key="refund", label_zh="退款", label_en="Refund"), actor=None
    )
    assert active_category_keys(db, brand.id) == {"billing", "refund"}  # the writing transaction sees its change
    db.commit()
    assert active_category_keys(db, brand.id) == {"billing", "refund"}
    update_category(db, row, None, {"is_active": False})
    db.commit()
    assert active_category_keys(db, brand.id) == {"billing"}


def test_a_change_made_by_another_process_is_seen_through_the_version_row(db: Any, make: Any) -> None:
    """Another process's change arrives as a new token in config_versions (here written by hand, bypassing the ORM)."""
    from kefu.core.models import ConfigVersion
    from kefu.tickets.models import TicketCategory
    from kefu.tickets.service import active_category_keys, create_category

    brand = make.brand()
    create_category(
        db, CreateCategory(brand_id=brand.id, key="billing", label_zh="帳務", label_en="Billing"), actor=None
    )
    db.commit()
    assert active_category_keys(db, brand.id) == {"billing"}
    db.commit()
    # A bulk statement skips the flush hook: without a new token this process keeps its cached keys...
    db.execute(update(TicketCategory).where(TicketCategory.brand_id == brand.id).values(key="invoice"))
    db.commit()
    assert active_category_keys(db, brand.id) == {"billing"}
    db.commit()
    # ...and as soon as the token changes (another process's flush, or configcache.touch), it reloads.
    token = db.scalar(select(ConfigVersion.version).where(ConfigVersion.brand_id == brand.id))
    db.execute(update(ConfigVersion).where(ConfigVersion.brand_id == brand.id).values(version=token + 1))
    db.commit()
    assert active_category_keys(db, brand.id) == {"invoice"}


def test_brand_settings_sla_policies_and_field_definitions_apply_to_the_next_ticket(
    client: Any, make: Any, db: Any
) -> None:
    """Changes made through the API apply to the very next create (no stale per-process copy)."""
    brand = make.brand()
    admin = make.agent("admin", [brand])
    h = make.token(admin)

    def create(**extra: Any) -> Any:
        return client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "訂單沒到", **extra}, headers=h)

    def policy_of(ticket: Any) -> Any:
        assert ticket.status_code == 201, ticket.text
        r = client.get(f"/api/v1/tickets/{ticket.json()['id']}/sla", headers=h)
        assert r.status_code == 200, r.text
        return r.json()["policy_name"]

    policy = {
        "name": "platinum",
        "conditions": {"tier": "platinum"},
        "targets": [{"kind": "first_response", "amount": 10, "unit": "minutes"}],
        "calendar": "24x7",
    }
    r = client.post("/api/v1/sla/policies", json={"brand_id": brand.id, "policy": policy}, headers=h)
    assert r.status_code == 201, r.text
    policy_id = r.json()["id"]
    assert policy_of(create()) is None  # the brand's tier is still the default
    r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"sla_tier": "platinum"}}, headers=h)
    assert r.status_code == 200, r.text
    assert policy_of(create()) == "platinum"  # the cached brand snapshot was replaced at once
    r = client.patch(f"/api/v1/sla/policies/{policy_id}", json={"is_active": False}, headers=h)
    assert r.status_code == 200, r.text
    assert policy_of(create()) is None

    assert create(custom_fields={"anything": "1"}).status_code == 201  # no definitions yet: free-form fields
    r = client.post(
        "/api/v1/ticket-fields",
        json={"brand_id": brand.id, "key": "order_no", "label_zh": "訂單編號", "label_en": "Order", "type": "text"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert create(custom_fields={"anything": "1"}).status_code == 422  # the new definition applies at once
