"""A lead runs the quarter's quality plan in the console (#17): drafts it from last quarter's causes, attributes
feedback, moves items (closing without a verification note is refused inline), sees overdue items and KPIs, draws a
third-party sample and imports findings — in zh-TW, zh-CN and en; agents cannot change anything."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from kefu.core.db import utcnow
from tests.quality.helpers import World, utc


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_lead_runs_the_quarterly_plan_in_the_console(client: Any, make: Any, db: Any) -> None:
    from kefu.quality.service import quarter_of

    brand = make.brand()
    w = World(db, make, brand)
    q3 = utc(2026, 8, 3, 4)
    a, b = w.csat(q3, 1, "等太久"), w.csat(q3, 2)
    vote = w.bot_vote(q3, helpful=False)
    closed = [w.case(f"案件 {n}", closed_at=q3 + timedelta(hours=n)) for n in range(3)]
    db.commit()
    lead = make.agent("supervisor", [brand])
    h = _login(client, lead)
    base = {"brand_id": str(brand.id), "quarter": "2026Q3"}

    page = client.get(f"/console/quality?brand_id={brand.id}&quarter=2026Q3&lang=zh-TW")
    assert page.status_code == 200 and "季度品質改善" in page.text and "待歸因回饋" in page.text
    assert f'id="fb-csat-{a.id}"' in page.text and f'id="fb-bot-{vote.id}"' in page.text
    for item, cause in ((a, "process"), (b, "process"), (vote, "system")):
        source = "bot" if item is vote else "csat"
        r = client.post(
            "/console/quality/attribute?lang=zh-TW",
            data={**base, "source": source, "source_id": str(item.id), "cause_key": cause},
            headers=h,
        )
        assert r.status_code == 200 and f'id="fb-{source}-{item.id}"' not in r.text
    assert re.search(r'id="sum-process"><th scope="row">流程</th><td>2</td>', r.text)

    # the next quarter's plan, drafted from these causes
    r = client.post("/console/quality/draft?lang=zh-TW", data={**base, "quarter": "2026Q4"}, headers=h)
    assert r.status_code == 200 and "已新增 2 個改善項目。" in r.text
    item_id = int(re.findall(r'id="qi-(\d+)"', r.text)[0])
    r = client.post(
        f"/console/quality/items/{item_id}/status?lang=zh-TW",
        data={**base, "quarter": "2026Q4", "status": "closed"},
        headers=h,
    )
    assert r.status_code == 422 and 'role="alert"' in r.text and "結案前需要填寫驗證說明" in r.text
    for status, note in (("done", ""), ("closed", "抽查 10 件皆已改善")):
        r = client.post(
            f"/console/quality/items/{item_id}/status?lang=zh-TW",
            data={**base, "quarter": "2026Q4", "status": status, "verification_note": note},
            headers=h,
        )
        assert r.status_code == 200
    assert re.search(rf'id="qi-{item_id}" class="st-closed">.*?抽查 10 件皆已改善', r.text, re.S)
    assert "共 2 項，已完成 1 項" in r.text

    # a lead assigns the other drafted item and moves its due date
    owner = make.agent("agent", [brand])
    other_id = int(re.findall(r'id="qi-(\d+)"', r.text)[1])
    r = client.post(
        f"/console/quality/items/{other_id}/edit?lang=zh-TW",
        data={**base, "quarter": "2026Q4", "owner_id": str(owner.id), "due_date": "2026-11-30"},
        headers=h,
    )
    assert r.status_code == 200
    row = re.search(rf'<tr id="qi-{other_id}".*?</tr>', r.text, re.S)
    assert row and f"<td>{owner.name}</td>" in row.group(0) and 'value="2026-11-30"' in row.group(0)
    assert f'<option value="{owner.id}" selected>' in row.group(0)

    # an overdue item shows at the top
    plan_id = int(re.search(r'hx-post="/console/quality/plans/(\d+)/items"', r.text).group(1))  # type: ignore[union-attr]
    past = (utcnow() - timedelta(days=3)).date().isoformat()
    r = client.post(
        f"/console/quality/plans/{plan_id}/items?lang=en",
        data={**base, "quarter": "2026Q4", "title": "Retrain on refunds", "due_date": past},
        headers=h,
    )
    assert r.status_code == 200
    assert re.search(r'id="od-\d+" class="overdue"><td>Retrain on refunds</td>', r.text)

    # third-party sample and findings
    r = client.post(
        "/console/quality/samples?lang=zh-CN", data={**base, "rate": "100", "seed": "s1", "auditor": "安永"}, headers=h
    )
    assert r.status_code == 200 and "第三方抽检" in r.text and "<code>s1</code>" in r.text
    sample_id = int(re.search(r'id="smp-(\d+)"', r.text).group(1))  # type: ignore[union-attr]
    csv_text = client.get(f"/console/quality/samples/{sample_id}.csv")
    assert csv_text.status_code == 200 and closed[0].number in csv_text.text and "王小明" not in csv_text.text
    found = f"{closed[0].number},60,未核對身分,people\nKF-999999,10,不存在"
    r = client.post(f"/console/quality/samples/{sample_id}/findings?lang=zh-CN", data={**base, "csv": found}, headers=h)
    assert r.status_code == 200 and "已导入 1 条，已归因 1 条，退回 1 行。" in r.text

    en = client.get(f"/console/quality?brand_id={brand.id}&quarter=2026Q4&lang=en")
    assert "Quarterly quality improvement" in en.text and "Quality KPIs of the quarter" in en.text
    now = client.get("/console/quality?lang=zh-CN")
    assert now.status_code == 200 and quarter_of(utcnow(), brand.timezone) in now.text

    agent = make.agent("agent", [brand])
    ha = _login(client, agent)
    assert client.get("/console/quality").status_code == 403  # no reports:read
    assert client.post("/console/quality/draft", data=base, headers=ha).status_code == 403
