"""Published service metrics on the help centre (透明化數據看板): opt-in, analytics' numbers, suppression, no PII."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.analytics.world import _ticket

AGENT_NAME = "周客服專員"
CUSTOMER = ("莊小美", "zhuang.xm@example.com")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    from kefu.portal.metrics import clear_cache

    clear_cache()
    yield
    clear_cache()


def _seed(db: Any, make: Any, brand: Any) -> Any:
    """12 tickets with first responses and resolutions in the last 30 days; only 4 CSAT surveys (too few to publish)."""
    from kefu.core.db import utcnow
    from kefu.surveys.models import CsatSurvey

    now = utcnow()
    agent = make.agent("agent", [brand])
    agent.name = AGENT_NAME
    cust = make.customer(brand, name=CUSTOMER[0], email=CUSTOMER[1])
    tickets = []
    for i in range(12):
        created = now - timedelta(days=3, hours=i)
        tickets.append(
            _ticket(
                db,
                brand,
                created_at=created,
                first_response_at=created + timedelta(minutes=5 * (i + 1)),
                resolved_at=created + timedelta(hours=i + 1),
                assignee_id=agent.id,
                customer_id=cust.id,
                subject=f"{CUSTOMER[0]} 的訂單問題",
            )
        )
    for i, tk in enumerate(tickets[:4]):
        db.add(
            CsatSurvey(
                brand_id=brand.id,
                ticket_id=tk.id,
                channel="email",
                resolved_at=tk.resolved_at,
                sent_at=tk.resolved_at + timedelta(minutes=1),
                expires_at=tk.resolved_at + timedelta(days=30),
                rating=5 - (i % 2),
                answered_at=tk.resolved_at + timedelta(hours=1),
                agent_id=agent.id,
            )
        )
    db.commit()
    return now


def test_metrics_are_off_by_default_and_a_brand_opts_in(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    admin = make.agent("admin")
    h = make.token(admin)
    off = client.get(f"/portal/{brand.slug}/metrics")
    assert off.status_code == 404 and "text/html" in off.headers["content-type"]
    assert f'href="/portal/{brand.slug}"' in off.text  # the friendly help-centre page, not a bare error
    assert client.get("/portal/no-such-brand/metrics").status_code == 404
    assert f"/portal/{brand.slug}/metrics" not in client.get(f"/portal/{brand.slug}").text
    bad = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"public_metrics": "yes"}}, headers=h)
    assert bad.status_code == 422
    ok = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"public_metrics": True}}, headers=h)
    assert ok.is_success
    db.expire_all()
    assert client.get(f"/portal/{brand.slug}/metrics").status_code == 200
    assert f'href="/portal/{brand.slug}/metrics"' in client.get(f"/portal/{brand.slug}").text
    # Switched off again through the admin brand form (the unticked box).
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"})
    form = {"name": brand.name, "default_locale": "zh-TW", "timezone": "Asia/Taipei"}
    form |= {"tier_level_0": "1", "tier_name_0": "一般", "tier_min_0": "0"}
    page = client.post(
        f"/admin/brands/{brand.id}", data=form, headers={"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}
    )
    assert page.status_code == 200, page.text
    db.expire_all()
    assert client.get(f"/portal/{brand.slug}/metrics").status_code == 404
    page = client.post(
        f"/admin/brands/{brand.id}",
        data={**form, "public_metrics": "1"},
        headers={"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"},
    )
    db.expire_all()
    assert db.get(type(brand), brand.id).settings["public_metrics"] is True
    assert client.get(f"/portal/{brand.slug}/metrics").status_code == 200


def test_published_figures_equal_the_analytics_service_and_small_samples_are_withheld(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.analytics import service as analytics
    from kefu.brands.commands import UpdateBrand
    from kefu.brands.service import update_brand
    from kefu.portal import metrics

    brand = make.brand(timezone="Asia/Taipei")
    update_brand(db, brand, None, UpdateBrand(settings={"public_metrics": True}))  # type: ignore[arg-type]
    now = _seed(db, make, brand)
    periods = metrics.public_metrics(db, brand, now=now)
    assert [p.kind for p in periods] == ["recent", "month", "month"]
    recent = periods[0]
    f = analytics.Filters(start=recent.start, end=recent.end, brand_ids=(brand.id,), now=now)
    figures = {x.key: x for x in recent.figures}
    frt, res, sat = analytics.first_response(db, f), analytics.resolution(db, f), analytics.csat(db, f)
    assert frt["count"] == 12 and figures["first_response_p50"].value == frt["p50"] == 1800.0  # 30 min
    assert figures["resolution_p50"].value == res["p50"] and figures["resolution_p50"].sample == res["count"] == 12
    # Four surveys: below the threshold of ten, so neither the average nor the response rate is published.
    assert sat["answered"] == 4 and sat["average"] == 4.5
    assert figures["csat_average"].suppressed and figures["csat_average"].value is None
    assert figures["csat_response_rate"].suppressed
    for key in ("sla_rate", "complaint_closure_24h", "regulator_on_time", "bot_containment"):
        assert figures[key].sample == 0 and figures[key].value is None
    # Previous calendar months in the brand's timezone: consecutive, each ending where the next begins.
    assert periods[1].end.astimezone(metrics.zone("Asia/Taipei")).day == 1
    assert periods[2].end == periods[1].start

    for lang, frt_text, res_label in (
        ("zh-TW", "30 分鐘", "問題解決時間（中位數）"),
        ("zh-CN", "30 分钟", "问题解决时间（中位数）"),
        ("en", "30 min", "Time to resolution (median)"),
    ):
        page = client.get(f"/portal/{brand.slug}/metrics?lang={lang}")
        assert page.status_code == 200
        assert frt_text in page.text and res_label in page.text
        assert page.text.count('data-metric="csat_average"') == 3
        assert {"zh-TW": "樣本少於 10 件", "zh-CN": "样本少于 10 件", "en": "Fewer than 10 cases"}[lang] in page.text
        assert {"zh-TW": "台灣時間（UTC+8）", "zh-CN": "台湾时间（UTC+8）", "en": "Taiwan Time (UTC+8)"}[
            lang
        ] in page.text
        # Definitions from the metric registry, in the visitor's language.
        assert analytics_label(lang) in page.text
        # No personal data and nothing per agent.
        for secret in (*CUSTOMER, AGENT_NAME, "的訂單問題"):
            assert secret not in page.text
        assert 'style="' not in page.text
    assert "4.5" not in client.get(f"/portal/{brand.slug}/metrics?lang=en").text.split("How each metric")[0]


def analytics_label(lang: str) -> str:
    """The registry's label of the first-response metric in a locale."""
    from kefu.analytics.metrics import METRICS

    return METRICS["first_response_time"].definition(lang)[:20]


def test_figures_are_cached_per_brand_and_period(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.commands import UpdateBrand
    from kefu.brands.service import update_brand
    from kefu.portal import metrics

    brand = make.brand()
    update_brand(db, brand, None, UpdateBrand(settings={"public_metrics": True}))  # type: ignore[arg-type]
    db.commit()
    first = client.get(f"/portal/{brand.slug}/metrics?lang=en")
    assert "Fewer than 10 cases" in first.text and first.headers["cache-control"] == "public, max-age=300"
    _seed(db, make, brand)
    assert "30 min" not in client.get(f"/portal/{brand.slug}/metrics?lang=en").text  # served from the cache
    metrics.clear_cache()
    assert "30 min" in client.get(f"/portal/{brand.slug}/metrics?lang=en").text
