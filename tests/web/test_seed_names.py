"""Seeded display names (membership tiers, SLA policies, categories, routing rules) in the reader's locale.

kefu.core.seedtext decides it: a stored name that is still the seed's text (in any locale) is shown as the catalog
entry for the reader's locale; a name an admin rewrote is theirs and is shown as typed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_admin_pages import _login

TIERS = {"zh-TW": "一般會員", "zh-CN": "普通会员", "en": "Regular member"}


def test_seed_text_follows_the_reader_until_renamed() -> None:
    from kefu.core.seedtext import is_seed_text, seed_text

    for stored in ("一般會員", "普通会员", "Regular member"):  # saved from a form in any language: still the seed
        assert is_seed_text("mtier_1", stored)
        assert [seed_text("mtier_1", stored, loc) for loc in TIERS] == list(TIERS.values())
    assert seed_text("mtier_1", "鑽石會員", "en") == "鑽石會員"  # the brand's own wording, as typed
    assert seed_text("mtier_1", "鑽石會員", "zh-CN") == "钻石会员"  # in the reader's script
    assert seed_text(
        "slap_standard",
        "一般案件 → 1 個工作天內回覆 (default service tier)",
        "en",
        ["一般案件 → 1 個工作天內回覆 (default service tier)"],
    ).startswith("Standard")
    assert not is_seed_text("mtier_1", "") and not is_seed_text("mtier_2", "一般會員")


@pytest.mark.parametrize("lang", list(TIERS))
def test_customer_tier_in_the_reader_locale(client: Any, make: Any, db: Any, lang: str) -> None:
    brand = make.brand()
    admin = make.agent("admin", [brand])
    customer = make.customer(brand, name="王小明")
    db.commit()
    _login(client, admin)
    page = client.get(f"/console/customers/{customer.id}", params={"lang": lang}).text
    assert f'class="tier">{TIERS[lang]}<' in page
    for other in set(TIERS.values()) - {TIERS[lang]}:
        assert other not in page


def test_renamed_tier_is_shown_as_typed(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    brand.tiers = [{"level": 1, "name": "Basic plan", "min_spend": 0}]
    admin = make.agent("admin", [brand])
    customer = make.customer(brand, name="王小明")
    db.commit()
    _login(client, admin)
    assert 'class="tier">Basic plan<' in client.get(f"/console/customers/{customer.id}", params={"lang": "zh-TW"}).text


def test_admin_brand_form_shows_seed_tiers_in_the_reader_locale(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    admin = make.agent("admin", [brand])
    db.commit()
    _login(client, admin)
    page = client.get("/admin", params={"tab": "brands", "lang": "en"}).text
    assert 'value="Regular member"' in page and 'value="Gold member"' in page and "會員" not in page


@pytest.mark.parametrize(
    ("lang", "title", "description", "category", "rule", "chinese_seed"),
    [
        (
            "en",
            "Payment failure",
            "Payment failure: high, to finance; reply within 30 min (24x7)",
            "Payment failure",
            "Category: Payment failure",
            "支付失敗 →",
        ),
        (
            "zh-CN",
            "支付失败",
            "支付失败：高优先级，交由财务；30 分钟内响应（7×24）",
            "支付失败",
            "分类“支付失败”",
            "支付失敗",
        ),
        (
            "zh-TW",
            "支付失敗",
            "支付失敗：高優先，交由財務；30 分鐘內回覆（全天候）",
            "支付失敗",
            "分類「支付失敗」",
            "支付失敗 →",
        ),
    ],
)
def test_admin_sla_and_routing_forms_name_seeds_in_the_reader_locale(
    client: Any,
    make: Any,
    db: Any,
    lang: str,
    title: str,
    description: str,
    category: str,
    rule: str,
    chinese_seed: str,
) -> None:
    from kefu.auth.service import create_team
    from kefu.routing.service import install_default_routing
    from kefu.sla.service import install_defaults
    from kefu.tickets.service import install_default_categories

    brand = make.brand(default_locale="zh-TW")  # seed descriptions are stored in the brand's language
    admin = make.agent("admin", [brand])
    install_defaults(db, brand.id, None)
    install_default_categories(db, brand.id, None)
    create_team(db, brand_id=brand.id, slug="finance", name="財務組", description="", actor=None)
    install_default_routing(db, brand.id, None)
    db.commit()
    _login(client, admin)
    sla = client.get("/admin", params={"tab": "sla", "brand_id": brand.id, "lang": lang}).text
    assert f"<h3>{title} <small><code>finance.payment_failure</code></small></h3>" in sla
    assert f'value="{description}"' in sla
    assert chinese_seed not in sla
    # A condition's keys stay the field's value; the reader sees what they mean next to it and in the choices.
    assert f'<small class="hint cond-labels">{category}</small>' in sla
    assert f'<option value="payment_failure" label="{category}">' in sla
    if lang == "en":  # a policy's `tier` is the brand's service tier, not the customer's membership tier
        assert ">Service tier</label>" in sla and '<option value="ecommerce_b2c" label="E-commerce B2C' in sla
    routing = client.get("/admin", params={"tab": "routing", "brand_id": brand.id, "lang": lang}).text
    if lang == "en":  # a routing rule's `tier` is the customer's membership tier
        assert '<option value="1" label="Regular member">' in routing
    assert rule in routing and "category:payment_failure" not in routing


def test_a_saved_seed_description_stays_a_seed(client: Any, make: Any, db: Any) -> None:
    """An en admin saving the form stores the English text; a zh-TW reader still gets the zh-TW seed text."""
    from kefu.sla.labels import policy_description

    en = "Payment failure: high, to finance; reply within 30 min (24x7)"
    assert policy_description("finance.payment_failure", en, "zh-TW").startswith("支付失敗：高優先")
    assert policy_description("finance.payment_failure", "我們自己的說明", "en") == "我們自己的說明"


def test_every_seed_has_a_name_in_every_locale() -> None:
    """A new seed tier, policy, category or calendar without catalog names would show one language to everyone."""
    from kefu.brands.models import DEFAULT_TIERS
    from kefu.core.catalog import LOCALES, table
    from kefu.core.seedtext import is_seed_text
    from kefu.demo import TEAMS
    from kefu.sla.calendar import DEFAULT_CALENDAR_CONFIGS
    from kefu.sla.policy import DEFAULT_POLICIES
    from kefu.tickets.classify import DEFAULT_CATEGORIES

    wanted = [f"mtier_{t['level']}" for t in DEFAULT_TIERS]
    for p in DEFAULT_POLICIES:
        key = p.name.replace(".", "_")
        wanted += [f"slap_{key}", f"slapn_{key}"]
    wanted += [f"cat_{c.key}" for c in DEFAULT_CATEGORIES] + [f"slacal_{n}" for n in DEFAULT_CALENDAR_CONFIGS]
    wanted += [f"seedteam_{slug}" for slug, _, _ in TEAMS]
    for loc in LOCALES:
        missing = [k for k in wanted if not table(loc).get(k)]
        assert missing == [], (loc, missing)
    # What brand creation stores is recognised as the seed's text.
    assert all(is_seed_text(f"mtier_{t['level']}", str(t["name"])) for t in DEFAULT_TIERS)
    assert all(is_seed_text(f"seedteam_{slug}", name) for slug, name, _ in TEAMS)


def test_team_names_follow_the_reader() -> None:
    from types import SimpleNamespace

    from kefu.auth.labels import team_name

    finance = SimpleNamespace(slug="finance", name="財務組")
    assert [team_name(finance, loc) for loc in ("zh-TW", "zh-CN", "en")] == ["財務組", "财务组", "Finance"]
    own = SimpleNamespace(slug="finance", name="帳務小組")
    assert team_name(own, "en") == "帳務小組" and team_name(own, "zh-CN") == "帐务小组"
    assert team_name(None, "en") == ""
