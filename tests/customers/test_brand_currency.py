"""Cumulative spend is written in the brand's currency (ISO 4217, default TWD) as the reader's locale writes money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kefu.core.l10n import currency_name, format_money
from tests.web.test_admin_forms import _field_error
from tests.web.test_admin_forms import _login as _admin_login
from tests.web.test_seed_names import _login


@pytest.mark.parametrize(
    ("locale", "twd", "usd"),
    [
        ("zh-TW", "$12,345.50", "US$12,345.50"),
        ("zh-CN", "NT$12,345.50", "US$12,345.50"),
        ("en", "NT$12,345.50", "$12,345.50"),
    ],
)
def test_money_per_locale(locale: str, twd: str, usd: str) -> None:
    assert format_money(Decimal("12345.5"), "TWD", locale) == twd  # in Taiwan the local dollar is plain $
    assert format_money(Decimal("12345.5"), "USD", locale) == usd
    assert format_money(Decimal("12345.5"), None, locale) == twd and format_money(None, "USD", locale) == ""


def test_currency_names() -> None:
    assert currency_name("TWD", "zh-TW") == "新台幣" and currency_name("TWD", "en") == "New Taiwan Dollar"
    assert currency_name("XYZ", "en") == "XYZ"


def test_brand_currency_api_defaults_to_twd_and_is_validated(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    r = client.post("/api/v1/brands", json={"slug": "cur", "name": "幣"}, headers=h)
    assert r.status_code == 201 and r.json()["currency"] == "TWD", r.text
    bid = r.json()["id"]
    for bad in ("usd", "US", "XYZ"):
        got = client.patch(f"/api/v1/brands/{bid}", json={"currency": bad}, headers=h)
        assert got.status_code == 422 and got.headers["content-type"].startswith("application/problem+json"), bad
    assert (
        client.post("/api/v1/brands", json={"slug": "cur2", "name": "x", "currency": "ABC"}, headers=h).status_code
        == 422
    )
    r = client.patch(f"/api/v1/brands/{bid}", json={"currency": "USD"}, headers=h)
    assert r.status_code == 200 and r.json()["currency"] == "USD"


def test_admin_form_sets_the_currency(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    admin = make.agent("admin", [brand])
    h = _admin_login(client, admin)
    base = {"name": brand.name, "default_locale": "zh-TW", "timezone": "Asia/Taipei", "sla_tier": ""}
    rows = {"tier_level_0": "1", "tier_name_0": "一般", "tier_min_0": "0"}
    page = client.get("/admin", params={"tab": "brands"}, headers=h).text
    assert f'id="bc-{brand.id}" name="currency" value="TWD"' in page and "新台幣" in page
    bad = client.post(f"/admin/brands/{brand.id}", data={**base, **rows, "currency": "dollars"}, headers=h)
    assert bad.status_code == 422 and _field_error(bad.text, f"brand-{brand.id}", "currency").startswith(
        "不認得這個幣別"
    )
    ok = client.post(f"/admin/brands/{brand.id}", data={**base, **rows, "currency": "usd"}, headers=h)
    assert ok.status_code == 200, ok.text[:300]
    db.refresh(brand)
    assert brand.currency == "USD"


@pytest.mark.parametrize(("lang", "shown"), [("zh-TW", "US$1,200.00"), ("en", "$1,200.00")])
def test_customer_pages_show_spend_in_the_brand_currency(
    client: Any, make: Any, db: Any, lang: str, shown: str
) -> None:
    brand = make.brand()
    brand.currency = "USD"
    other = make.brand()  # TWD: the list mixes brands, each customer's spend in its own brand's currency
    admin = make.agent("admin", [brand, other])
    customer = make.customer(brand, name="王小明")
    customer.cumulative_spend = Decimal("1200")
    local = make.customer(other, name="林小美")
    local.cumulative_spend = Decimal("80")
    db.commit()
    _login(client, admin)
    profile = client.get(f"/console/customers/{customer.id}", params={"lang": lang}).text
    assert f'class="spend">{shown}<' in profile
    listing = client.get("/console/customers", params={"lang": lang}).text
    assert f">{shown}<" in listing and (">$80.00<" if lang == "zh-TW" else ">NT$80.00<") in listing
