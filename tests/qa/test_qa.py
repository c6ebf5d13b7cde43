"""QA: daily 5% random sample of yesterday's closed conversations, weighted scorecards, correctness rate."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

DAY = date(2026, 3, 2)
# 2 March in Taipei is [1 March 16:00, 2 March 16:00) UTC.
START = datetime(2026, 3, 1, 16, tzinfo=UTC)


def _convs(
    db: Any, make: Any, brand: Any, n: int, at: datetime, status: str = "closed", agent: Any = None
) -> list[Any]:
    from kefu.conversations.models import Conversation

    cust = make.customer(brand)
    rows = [
        Conversation(
            brand_id=brand.id,
            customer_id=cust.id,
            channel="web_chat",
            status=status,
            created_at=at,
            last_message_at=at,
            updated_at=at + timedelta(minutes=i % 60),
            assignee_id=agent.id if agent else None,
        )
        for i in range(n)
    ]
    db.add_all(rows)
    db.commit()
    return rows


def test_sample_is_ceil_rate_of_the_day_and_idempotent(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.qa.models import QaReview
    from kefu.qa.service import sample_day

    brand = make.brand()
    agent = make.agent("agent", [brand])
    day_convs = _convs(db, make, brand, 40, START + timedelta(hours=1), agent=agent)
    _convs(db, make, brand, 10, START - timedelta(hours=1))  # previous local day
    _convs(db, make, brand, 10, START + timedelta(hours=25))  # next local day
    _convs(db, make, brand, 10, START + timedelta(hours=2), status="open")  # not closed
    run = sample_day(db, brand, DAY, rng=random.Random(7))
    db.commit()
    assert (run.population, run.sampled, run.rate) == (40, 2, 0.05)
    reviews = list(db.scalars(select(QaReview).where(QaReview.run_id == run.id)))
    assert len(reviews) == 2 and {r.conversation_id for r in reviews} <= {c.id for c in day_convs}
    assert all(r.status == "pending" and r.agent_id == agent.id for r in reviews)
    assert sample_day(db, brand, DAY).id == run.id  # once per brand-day
    assert any(e.type == "qa.sampled" for e in events)


def test_rate_is_configurable_per_brand(db: Any, make: Any) -> None:
    from kefu.qa.service import sample_day, sample_yesterday

    brand = make.brand()
    brand.settings = {"qa_sample_rate": 0.1}
    db.commit()
    _convs(db, make, brand, 41, START + timedelta(hours=3))
    assert sample_day(db, brand, DAY).sampled == 5  # ceil(4.1)
    other = make.brand()
    _convs(db, make, other, 3, START + timedelta(hours=3))
    runs = {r.brand_id: r for r in sample_yesterday(db, now=START + timedelta(days=1, hours=2))}
    assert runs[other.id].sampled == 1 and runs[other.id].day == "2026-03-02"


def test_scorecard_weighted_total_and_accuracy(db: Any, make: Any) -> None:
    from kefu.analytics.service import qa_correctness, resolve_filters
    from kefu.core.errors import InvalidInput
    from kefu.qa.service import sample_day, score

    brand = make.brand()
    _convs(db, make, brand, 20, START + timedelta(hours=1))
    run = sample_day(db, brand, DAY, rate=0.1, rng=random.Random(1))
    db.commit()
    from kefu.qa.models import QaReview

    r1, r2 = db.scalars(select(QaReview).where(QaReview.run_id == run.id).order_by(QaReview.id))
    with pytest.raises(InvalidInput):
        score(db, r1, None, {"accuracy": 5})
    with pytest.raises(InvalidInput):
        score(db, r1, None, {"accuracy": 6, "compliance": 4, "tone": 3, "efficiency": 5})
    score(db, r1, None, {"accuracy": 5, "compliance": 4, "tone": 3, "efficiency": 5}, "很好")
    # 40×5/5 + 25×4/5 + 20×3/5 + 15×5/5 = 87 → passes the 80 bar; accuracy 5 ≥ 4.
    assert (r1.total, r1.passed, r1.accuracy_passed, r1.status) == (87.0, True, True, "done")
    score(db, r2, None, {"accuracy": 3, "compliance": 5, "tone": 5, "efficiency": 5})
    # 40×3/5 + 60 = 84 → passes overall but fails accuracy (3 < 4).
    assert (r2.total, r2.passed, r2.accuracy_passed) == (84.0, True, False)
    db.commit()
    f = resolve_filters(db, None, brand_id=brand.id)
    assert qa_correctness(db, f) == {
        "reviewed": 2,
        "accuracy_passed": 1,
        "rate": 0.5,
        "passed": 2,
        "pass_rate": 1.0,
        "avg_total": 85.5,
    }


def test_qa_api_and_page(client: Any, db: Any, make: Any) -> None:
    brand = make.brand()
    sup_agent = make.agent("supervisor", [brand])
    sup, auditor = make.token(sup_agent), make.token(make.agent("auditor", [brand]))
    _convs(db, make, brand, 10, START + timedelta(hours=1))
    r = client.post("/api/v1/qa/samples", json={"brand_id": brand.id, "day": "2026-03-02"}, headers=sup)
    assert r.status_code == 201 and r.json()["sampled"] == 1
    assert client.post("/api/v1/qa/samples", json={"brand_id": brand.id}, headers=auditor).status_code == 403
    queue = client.get(f"/api/v1/qa/reviews?brand_id={brand.id}", headers=auditor).json()
    assert len(queue) == 1
    rid = queue[0]["id"]
    scores = {"accuracy": 4, "compliance": 4, "tone": 4, "efficiency": 4}
    assert client.post(f"/api/v1/qa/reviews/{rid}/score", json={"scores": scores}, headers=auditor).status_code == 403
    r = client.post(f"/api/v1/qa/reviews/{rid}/score", json={"scores": scores}, headers=sup)
    assert r.status_code == 200 and r.json()["total"] == 80.0 and r.json()["passed"] is True
    cards = client.get(f"/api/v1/qa/scorecards?brand_id={brand.id}", headers=sup).json()
    assert cards[0]["is_default"] and next(c["key"] for c in cards[0]["criteria"]) == "accuracy"
    # Console page (session cookie).
    login = client.post("/api/v1/auth/login", json={"email": sup_agent.email, "password": "correct horse 1"})
    assert login.status_code == 200
    page = client.get("/console/qa?status=done")
    assert page.status_code == 200 and "品質抽檢佇列" in page.text and "80.0" in page.text


def test_review_queue_items_batch_their_lookups(db: Any, make: Any, count_queries: Any) -> None:
    from kefu.conversations.service import add_message
    from kefu.qa.models import QaReview
    from kefu.qa.service import list_reviews, review_items

    brand = make.brand()
    agent = make.agent("agent", [brand])
    convs = _convs(db, make, brand, 6, START, agent=agent)
    for conv in convs:
        add_message(db, conv, sender_type="customer", body="請問退款進度")
        add_message(db, conv, sender_type="agent", body="內部備註", agent_id=agent.id, is_note=True)
    reviews = [QaReview(brand_id=brand.id, conversation_id=c.id, agent_id=agent.id) for c in convs]
    db.add_all(reviews)
    db.commit()
    db.expire_all()
    reviews = list_reviews(db, None, brand_id=brand.id)  # as the queue page loads them
    with count_queries() as q:
        items = review_items(db, reviews)
    # conversations + customers + agents + the brand's scorecard (created on first use: 4), one transcript per review
    assert q.count <= 7 + len(reviews), str(q)
    assert [it["conv"].id for it in items] == [c.id for c in convs]
    assert all([m.body for m in it["messages"]] == ["請問退款進度"] for it in items)  # notes stay out
    assert all(it["agent"].id == agent.id and it["customer"] is not None for it in items)
    assert review_items(db, []) == []


def test_admin_sets_the_daily_share_and_anger_level_and_the_qa_page_shows_each_days_sample(
    client: Any, db: Any, make: Any
) -> None:
    """#31 / #48 on the user path: the numbers are set in admin → Brands, checked, and the QA page shows the share."""
    from kefu.bot.policy import BotSettings
    from kefu.brands.models import Brand
    from kefu.qa.service import sample_yesterday
    from tests.web.test_admin_pages import _login

    brand = make.brand(timezone="Asia/Taipei")
    other = make.brand()
    admin = make.agent("admin")
    sup = make.agent("supervisor", [brand])
    h = make.token(admin)
    # The API refuses a share given in percent (5 would sample every conversation) and a bad anger level.
    for bad in ({"qa_sample_rate": 5}, {"qa_sample_rate": 0}, {"bot": {"anger_threshold": 9}}):
        r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": bad}, headers=h)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), bad
    # A rate stored before validation skips that brand's sample only.
    other.settings = {"qa_sample_rate": 5}
    db.commit()

    client.headers.pop("Authorization", None)
    hdr = _login(client, admin)
    page = client.get("/admin?tab=brands&lang=zh-TW")
    assert 'name="qa_sample_pct"' in page.text and "品質抽檢比例" in page.text and "憤怒預警門檻" in page.text
    form = {
        "name": brand.name,
        "default_locale": "zh-TW",
        "timezone": "Asia/Taipei",
        "tier_level_0": "1",
        "tier_name_0": "一般",
        "tier_min_0": "0",
        "qa_sample_pct": "101",
        "progress_every": "2",
        "anger_threshold": "7",
    }
    r = client.post(f"/admin/brands/{brand.id}", data=form, headers=hdr)
    assert r.status_code == 422 and "請填大於 0、不超過 100 的數字" in r.text and "請填 1 到 5 之間的整數" in r.text
    assert "請填 5 到 1440 之間的整數" in r.text
    db.expire_all()
    assert "qa_sample_rate" not in (db.get(Brand, brand.id).settings or {})
    form.update(qa_sample_pct="10", progress_every="60", anger_threshold="4")
    assert client.post(f"/admin/brands/{brand.id}", data=form, headers=hdr).status_code == 200
    db.expire_all()
    settings = db.get(Brand, brand.id).settings
    assert settings["qa_sample_rate"] == 0.1 and settings["progress_updates"]["every_minutes"] == 60
    assert BotSettings.from_brand(settings).anger_threshold == 4
    page = client.get("/admin?tab=brands&lang=zh-TW")
    assert 'name="qa_sample_pct" value="10"' in page.text and 'name="anger_threshold" value="4"' in page.text

    # The daily job samples 10 % of 41 closed conversations (ceil 4.1 = 5); the other brand is skipped, not fatal.
    _convs(db, make, brand, 41, START + timedelta(hours=3))
    runs = sample_yesterday(db, now=START + timedelta(days=1, hours=2))
    db.commit()
    assert [(r.brand_id, r.population, r.sampled) for r in runs if r.brand_id in (brand.id, other.id)] == [
        (brand.id, 41, 5)
    ]
    client.cookies.clear()
    _login(client, sup)
    days = {"zh-TW": "2026/3/2", "zh-CN": "2026/3/2", "en": "Mar 2, 2026"}  # the console's one date style per locale
    for lang, head in (("zh-TW", "每日抽檢"), ("zh-CN", "每日抽检"), ("en", "Daily samples")):
        page = client.get(f"/console/qa?lang={lang}")
        assert page.status_code == 200 and head in page.text
        row = page.text.split('class="grid qa-runs"')[1].split("</table>")[0]
        assert all(x in row for x in (days[lang], brand.name, "<td>41</td>", "<td>10 %</td>", "<td>5</td>")), row
        assert other.name not in row  # the supervisor sees their own brands' samples only
