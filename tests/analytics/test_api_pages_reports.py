"""Analytics API, dashboard page, reports (HTML, CSV, PDF) and threshold alerts."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.analytics.world import T0, D, World, build

QS = f"start={T0.isoformat().replace('+00:00', 'Z')}&end={(T0 + 7 * D).isoformat().replace('+00:00', 'Z')}"


@pytest.fixture
def world(db: Any, make: Any) -> World:
    return build(db, make)


def test_metric_definitions_endpoint(client: Any) -> None:
    body = client.get("/api/v1/analytics/metrics").json()
    fcr = next(m for m in body if m["key"] == "fcr")
    assert fcr["unit"] == "percent" and "7" in fcr["definition_en"] and "首次回應解決率" in fcr["label_zh"]


def test_dashboard_api_permissions_and_numbers(client: Any, make: Any, world: World) -> None:
    admin = make.token(make.agent("admin"))
    r = client.get(f"/api/v1/analytics/dashboard?{QS}&brand_id={world.brand.id}", headers=admin)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["fcr"] == {"resolved": 4, "fcr": 2, "rate": 0.5}
    assert d["csat"]["average"] == 4.0 and d["first_response_time"]["p90"] == 1800.0
    org = client.get(f"/api/v1/analytics/dashboard?{QS}&organization_id={world.org.id}", headers=admin).json()
    assert org["volume_by_channel"]["total"] == 1
    agent = make.token(make.agent("agent", [world.brand]))
    assert client.get("/api/v1/analytics/dashboard", headers=agent).status_code == 403
    auditor = make.token(make.agent("auditor", [world.other]))
    assert client.get("/api/v1/analytics/dashboard", headers=auditor).status_code == 200
    assert client.get(f"/api/v1/analytics/dashboard?brand_id={world.brand.id}", headers=auditor).status_code == 404


def test_reports_html_csv_pdf(client: Any, make: Any, world: World, tmp_path: Path) -> None:
    sup = make.token(make.agent("supervisor", [world.brand]))
    base = f"/api/v1/analytics/reports/monthly.%s?{QS}&brand_id={world.brand.id}"
    html = client.get(base % "html", headers=sup)
    assert html.status_code == 200 and "客服月度白皮書" in html.text and "50.0%" in html.text
    assert "指標定義" in html.text and "上期" in html.text
    assert "2026-03-02 – 2026-03-09" in html.text  # T0 is 08:00 in Taipei; the period ends 08:00 on the 9th
    csv = client.get(base % "csv", headers=sup)
    assert csv.headers["content-type"].startswith("text/csv") and csv.content.startswith(b"\xef\xbb\xbf")
    text = csv.content.decode("utf-8-sig")
    assert "首次回應解決率 (FCR),50.0%" in text and "退款,3" in text
    pdf = client.get(base % "pdf", headers=sup)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    out = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.content)).pages)
    assert "客服月度白皮書" in out and "首次回應解決率" in out
    weekly = client.get(f"/api/v1/analytics/reports/weekly.html?{QS}&brand_id={world.brand.id}&lang=en", headers=sup)
    assert "Weekly service report" in weekly.text and "Definitions" not in weekly.text
    assert client.get("/api/v1/analytics/reports/daily.csv", headers=sup).status_code == 422
    cn = client.get(f"/api/v1/analytics/reports/weekly.pdf?{QS}&brand_id={world.brand.id}&lang=zh-CN", headers=sup)
    assert "每周客服服务报告" in "".join(page.extract_text() for page in PdfReader(BytesIO(cn.content)).pages)
    cn_csv = client.get(f"/api/v1/analytics/reports/weekly.csv?{QS}&brand_id={world.brand.id}&lang=zh-CN", headers=sup)
    assert "每周客服服务报告" in cn_csv.content.decode("utf-8-sig") and "首次解决率" in cn_csv.content.decode(
        "utf-8-sig"
    )
    cn_text = cn_csv.content.decode("utf-8-sig")
    assert "指针" not in cn_text and "置立" not in cn_text and "工單" not in cn_text and "小時" not in cn_text


def test_report_default_periods() -> None:
    from datetime import UTC, datetime

    from kefu.analytics.reports import period_for

    now = datetime(2026, 3, 4, 3, tzinfo=UTC)  # Wednesday 11:00 in Taipei
    assert period_for("weekly", now) == (datetime(2026, 2, 22, 16, tzinfo=UTC), datetime(2026, 3, 1, 16, tzinfo=UTC))
    assert period_for("monthly", now) == (datetime(2026, 1, 31, 16, tzinfo=UTC), datetime(2026, 2, 28, 16, tzinfo=UTC))


def _login(client: Any, agent: Any) -> None:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200, r.text


def test_dashboard_page_renders_svg_charts(client: Any, make: Any, world: World) -> None:
    sup = make.agent("supervisor", [world.brand])
    _login(client, sup)
    page = client.get(f"/console/analytics?start=2026-03-02&end=2026-03-08&brand_id={world.brand.id}")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") >= 9 and "首次回應解決率" in page.text and "退款" in page.text
    assert 'data-metric="fcr"' in page.text and "50.0%" in page.text
    assert "<script" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]  # charts are static SVG
    en = client.get(f"/console/analytics?start=2026-03-02&end=2026-03-08&brand_id={world.brand.id}&lang=en")
    assert "First contact resolution" in en.text
    report = client.get(f"/console/analytics/reports/weekly?brand_id={world.brand.id}&lang=zh-TW")
    assert report.status_code == 200 and "每週客服服務報告" in report.text and ".pdf?" in report.text
    agent = make.agent("agent", [world.brand])
    client.cookies.clear()
    _login(client, agent)
    assert client.get("/console/analytics").status_code == 403


def test_alerts_raise_once_and_clear(db: Any, make: Any, events: list[Any], client: Any) -> None:
    from kefu.analytics.alerts import evaluate, sync
    from kefu.conversations.models import Conversation, Message
    from kefu.core.db import utcnow
    from kefu.tickets.models import Ticket

    brand = make.brand()
    brand.settings = {"analytics": {"backlog_max": 1, "anger_spike_count": 2, "frt_target_minutes": 10}}
    now = utcnow()
    open_tickets = [
        Ticket(
            brand_id=brand.id,
            number=f"AL-{i}-{brand.id}",
            subject="s",
            status="open",
            created_at=now - timedelta(hours=2),
            updated_at=now,
            first_response_at=now - timedelta(hours=1),
        )
        for i in range(2)
    ]
    db.add_all(open_tickets)
    cust = make.customer(brand)
    conv = Conversation(brand_id=brand.id, customer_id=cust.id, channel="line")
    db.add(conv)
    db.flush()
    for anger in (4, 3, 1):
        db.add(
            Message(
                brand_id=brand.id,
                conversation_id=conv.id,
                channel="line",
                sender_type="customer",
                body="氣死了",
                meta={"emotion": {"label": "anger", "anger": anger}},
                created_at=now - timedelta(minutes=5),
            )
        )
    db.commit()
    checks = {c.kind: c for c in evaluate(db, brand, now)}
    assert checks["backlog"].firing and checks["backlog"].value == 2
    assert checks["anger_spike"].firing and checks["anger_spike"].value == 2
    assert checks["first_response"].firing and checks["first_response"].value == 3600.0
    events.clear()
    active = sync(db, brand, now)
    db.commit()
    assert {a.kind for a in active} == {"backlog", "anger_spike", "first_response"}
    raised = [e for e in events if e.type == "analytics.alert"]
    assert len(raised) == 3 and all(e.topics == (f"brand:{brand.id}",) for e in raised)
    events.clear()
    sync(db, brand, now)
    db.commit()
    assert not [e for e in events if e.type == "analytics.alert"]  # no repeats while still firing
    for t in open_tickets:
        t.status = "resolved"
    db.commit()
    active = sync(db, brand, now)
    db.commit()
    assert "backlog" not in {a.kind for a in active}
    assert [e.data["kind"] for e in events if e.type == "analytics.alert_cleared"] == ["backlog"]
    sup = make.token(make.agent("supervisor", [brand]))
    body = client.get(f"/api/v1/analytics/alerts?brand_id={brand.id}", headers=sup).json()
    assert {a["kind"] for a in body["active"]} == {"anger_spike", "first_response"}
