"""The periodic operations report for a B2B organization (seed promise 20), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.analytics.world import World, build
from tests.channels.servers import upstream  # noqa: F401  (fixture: a real SMTP relay capturing mail)

# 2026-04-01 11:00 Taipei: March 2026 (the world's week, in Taipei time) is the last full month.
APRIL = datetime(2026, 4, 1, 3, tzinfo=UTC)


@pytest.fixture
def world(db: Any, make: Any) -> World:
    return build(db, make)


def _mailbox(db: Any, brand: Any) -> Any:
    from kefu.brands.service import create_inbox

    cfg = {"address": "support@shop.example", "from_name": "客服中心", "smtp_host": "127.0.0.1", "smtp_port": 2525}
    box = create_inbox(db, brand, kind="email", name="客服信箱", config=cfg, actor=None)
    db.commit()
    return box


def _configure(db: Any, org: Any, **kw: Any) -> Any:
    from kefu.analytics.org_reports import save_settings

    kw.setdefault("enabled", True)
    kw.setdefault("recipients", ["ops@bigclient.example", " CFO@BigClient.example "])
    s = save_settings(db, org, None, kw)
    db.commit()
    return s


def _outbox(db: Any, brand_id: int) -> list[Any]:
    from kefu.channels.models import OutboxMessage

    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.brand_id == brand_id).order_by(OutboxMessage.id)))


def test_periods_in_the_brand_timezone() -> None:
    from kefu.analytics.org_reports import last_full_period, period_bounds, previous_key
    from kefu.core.errors import InvalidInput

    assert last_full_period("monthly", APRIL, "Asia/Taipei") == "2026-03"
    assert last_full_period("quarterly", APRIL, "Asia/Taipei") == "2026-Q1"
    # 1 April 01:00 Taipei is still inside the settling time after March: February is the last one reported.
    assert last_full_period("monthly", datetime(2026, 3, 31, 17, tzinfo=UTC), "Asia/Taipei") == "2026-02"
    assert previous_key("2026-01") == "2025-12" and previous_key("2026-Q1") == "2025-Q4"
    assert period_bounds("2026-Q4")[1:] == (datetime(2026, 10, 1).date(), datetime(2027, 1, 1).date())
    with pytest.raises(InvalidInput):
        period_bounds("2026-13")


def test_figures_equal_the_dashboard_for_the_same_filter(db: Any, world: World) -> None:
    from kefu.analytics import service
    from kefu.analytics.org_reports import compute

    data = compute(db, world.org, "2026-03", now=APRIL)
    f = service.resolve_filters(
        db,
        None,
        start=datetime(2026, 2, 28, 16, tzinfo=UTC),
        end=datetime(2026, 3, 31, 16, tzinfo=UTC),
        brand_id=world.brand.id,
        organization_id=world.org.id,
        now=APRIL,
    )
    d = service.dashboard(db, f)
    cur = data["current"]
    assert cur["opened"] == d["volume_by_channel"]["total"] == 1
    assert cur["resolved"] == d["resolution_time"]["count"]
    assert cur["frt_median"] == d["first_response_time"]["p50"] == 1200.0
    assert cur["resolution_median"] == d["resolution_time"]["p50"]
    assert cur["sla_overall"] == d["sla_compliance"]["rate"]
    kinds = d["sla_compliance"]["by_kind"]
    assert cur["sla_first_response"] == kinds.get("first_response", {}).get("rate")
    assert cur["csat_average"] == d["csat"]["average"] and cur["csat_responses"] == d["csat"]["answered"] == 1
    assert cur["fcr_rate"] == d["fcr"]["rate"]
    assert cur["top_categories"] == d["top_issues"][:5]
    assert data["previous"]["opened"] == 0 and data["previous_key"] == "2026-02"
    assert data["first_day"] == "2026-03-01" and data["last_day"] == "2026-03-31"


def test_job_sends_once_per_period_to_the_recipients_in_their_language(db: Any, world: World) -> None:
    from kefu.analytics.jobs import send_due_reports
    from kefu.analytics.models import OrgReport
    from kefu.audit.models import AuditLog

    _mailbox(db, world.brand)
    _configure(db, world.org, locale="en")
    assert send_due_reports(db, APRIL) == 1
    rows = _outbox(db, world.brand.id)
    assert sorted(r.recipient for r in rows) == ["cfo@bigclient.example", "ops@bigclient.example"]
    p = rows[0].payload
    assert p["subject"] == "大客戶股份有限公司 operations report 2026-03" and "Cases opened" in p["text"]
    assert "Cases opened" in p["html"] and "<script" not in p["html"]
    assert [a["filename"] for a in p["attachments"]] == [
        f"org-report-{world.org.id}-2026-03.{ext}" for ext in ("csv", "pdf")
    ]
    # a rerun (or a second scheduler tick) sends nothing more
    assert send_due_reports(db, APRIL) == 0
    assert send_due_reports(db, APRIL.replace(day=20)) == 0
    assert len(_outbox(db, world.brand.id)) == 2
    assert db.scalar(select(func.count()).select_from(OrgReport)) == 1
    audit = db.scalars(select(AuditLog.action).where(AuditLog.target_id == str(world.org.id))).all()
    assert "organization.report_sent" in audit and "organization.report_settings" in audit
    # the next month is a new period: sent once more
    assert send_due_reports(db, datetime(2026, 5, 1, 3, tzinfo=UTC)) == 1
    assert len(_outbox(db, world.brand.id)) == 4


def test_no_report_without_mailbox_or_when_off(db: Any, world: World) -> None:
    from kefu.analytics.jobs import send_due_reports
    from kefu.analytics.models import OrgReport

    _configure(db, world.org)
    assert send_due_reports(db, APRIL) == 0  # no e-mail inbox: nothing recorded, so it goes out once one exists
    assert db.scalar(select(func.count()).select_from(OrgReport)) == 0
    _mailbox(db, world.brand)
    _configure(db, world.org, enabled=False)
    assert send_due_reports(db, APRIL) == 0
    _configure(db, world.org, locale="zh-CN")
    assert send_due_reports(db, APRIL) == 1
    assert all(r.payload["subject"] == "大客戶股份有限公司 运营成效报告 2026-03" for r in _outbox(db, world.brand.id))


def test_report_holds_no_customer_personal_data(db: Any, world: World) -> None:
    from kefu.analytics.org_reports import compute, to_csv, to_html, to_pdf, to_text
    from kefu.customers.models import Customer

    cust = db.get(Customer, world.tickets["t2"].customer_id)
    cust.email, cust.phone = "wang.xiaoming@personal.example", "0912345678"
    db.commit()
    data = compute(db, world.org, "2026-03", now=APRIL)
    for locale in ("zh-TW", "zh-CN", "en"):
        out = to_html(data, locale) + to_text(data, locale) + to_csv(data, locale) + repr(data)
        for secret in (cust.name, cust.email, cust.phone, "wang.xiaoming"):
            assert secret not in out, (locale, secret)
        assert to_pdf(data, locale).startswith(b"%PDF-")
    assert "新進案件" in to_text(data, "zh-TW") and "新增案件" in to_text(data, "zh-CN")


def test_settings_validation() -> None:
    from kefu.analytics.org_reports import ReportSettingsIn
    from kefu.core.commands import build
    from kefu.core.errors import InvalidInput

    s = build(ReportSettingsIn, {"recipients": ["A@Example.com", "a@example.com", ""]})
    assert s.recipients == ["a@example.com"] and s.period == "monthly" and s.locale == "zh-TW"
    for bad in ({"recipients": ["not an address"]}, {"period": "weekly"}, {"locale": "fr"}):
        with pytest.raises(InvalidInput):
            build(ReportSettingsIn, bad)


def test_api_settings_send_now_download_and_brand_access(client: Any, db: Any, make: Any, world: World) -> None:
    _mailbox(db, world.brand)
    admin = make.token(make.agent("admin", [world.brand]))
    base = f"/api/v1/organizations/{world.org.id}"
    assert client.get(f"{base}/report-settings", headers=admin).json()["enabled"] is False
    bad = client.put(f"{base}/report-settings", json={"enabled": True, "recipients": ["x@"]}, headers=admin)
    assert bad.status_code == 422
    none = client.put(f"{base}/report-settings", json={"enabled": True, "recipients": []}, headers=admin)
    assert none.status_code == 422
    body = {"enabled": True, "period": "quarterly", "locale": "en", "recipients": ["ops@bigclient.example"]}
    r = client.put(f"{base}/report-settings", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["period"] == "quarterly", r.text

    dry = client.post(f"{base}/reports/send-now", json={"period_key": "2026-Q1", "dry_run": True}, headers=admin)
    assert dry.status_code == 200 and dry.json()["data"]["current"]["opened"] == 1, dry.text
    assert client.get(f"{base}/reports", headers=admin).json() == [] and _outbox(db, world.brand.id) == []
    sent = client.post(f"{base}/reports/send-now", json={"period_key": "2026-Q1"}, headers=admin)
    assert sent.status_code == 200 and sent.json()["recipients"] == ["ops@bigclient.example"], sent.text
    again = client.post(f"{base}/reports/send-now", json={"period_key": "2026-Q1"}, headers=admin)
    assert again.status_code == 409
    assert len(_outbox(db, world.brand.id)) == 1
    assert client.post(f"{base}/reports/send-now", json={"period_key": "26-1"}, headers=admin).status_code == 422
    # the running quarter has not ended: sending it now would use up its one report
    today = datetime.now(UTC)
    running = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    this_quarter = client.post(f"{base}/reports/send-now", json={"period_key": running}, headers=admin)
    assert this_quarter.status_code == 422 and "not ended" in this_quarter.json()["detail"]
    preview = client.post(f"{base}/reports/send-now", json={"period_key": running, "dry_run": True}, headers=admin)
    assert preview.status_code == 200

    rid = sent.json()["id"]
    csv = client.get(f"{base}/reports/{rid}.csv", headers=admin)
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf") and "Cases opened" in csv.text
    assert client.get(f"{base}/reports/{rid}.pdf", headers=admin).content.startswith(b"%PDF-")
    assert "Cases opened" in client.get(f"{base}/reports/{rid}.html", headers=admin).text

    # another brand's admin sees none of it, and cannot change or send it
    stranger = make.token(make.agent("supervisor", [world.other]))  # admins see every brand
    assert client.get(f"{base}/report-settings", headers=stranger).status_code == 404
    assert client.put(f"{base}/report-settings", json=body, headers=stranger).status_code == 404
    assert client.post(f"{base}/reports/send-now", json={}, headers=stranger).status_code == 404
    assert client.get(f"{base}/reports/{rid}.csv", headers=stranger).status_code == 404
    other_org = _other_org(db, world)
    assert client.get(f"/api/v1/organizations/{other_org.id}/reports/{rid}.csv", headers=stranger).status_code == 404
    reader = make.token(make.agent("auditor", [world.brand]))
    assert client.get(f"{base}/reports", headers=reader).status_code == 200
    assert client.put(f"{base}/report-settings", json=body, headers=reader).status_code == 403


def _other_org(db: Any, world: World) -> Any:
    from kefu.customers.models import Organization

    org = Organization(brand_id=world.other.id, name="別的客戶")
    db.add(org)
    db.commit()
    return org


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        ("zh-TW", ("法人客戶營運報告", "報告設定", "每季", "繁體中文")),
        ("zh-CN", ("法人客户运营报告", "报告设置", "每季度", "简体中文")),
        ("en", ("Organisation reports", "Report settings", "Quarterly", "Traditional Chinese")),
    ],
)
def test_console_page_in_three_locales(
    client: Any, db: Any, make: Any, world: World, locale: str, texts: tuple[str, ...]
) -> None:
    _mailbox(db, world.brand)
    h = _login(client, make.agent("admin", [world.brand]))
    page = client.get(f"/console/analytics/organizations/{world.org.id}?lang={locale}")
    assert page.status_code == 200, page.text
    for text in texts:
        assert text in page.text, text
    main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<script" not in main and "style=" not in main and " on" + "click" not in main  # CSP-safe
    listing = client.get(f"/console/analytics/organizations?lang={locale}")
    assert listing.status_code == 200 and world.org.name in listing.text and texts[0] in listing.text

    form = {"enabled": "on", "period": "monthly", "locale": locale, "recipients": "ops@bigclient.example\nbad"}
    assert (
        client.post(
            f"/console/analytics/organizations/{world.org.id}/report-settings", data=form, headers=h
        ).status_code
        == 422
    )
    form["recipients"] = "ops@bigclient.example, cfo@bigclient.example"
    r = client.post(f"/console/analytics/organizations/{world.org.id}/report-settings", data=form, headers=h)
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith("?saved=true")
    sent = client.post(f"/console/analytics/organizations/{world.org.id}/send-now", headers=h)
    assert sent.status_code == 204, sent.text
    page = client.get(f"/console/analytics/organizations/{world.org.id}?lang={locale}&queued=true")
    assert "/reports/" in page.text and ".pdf" in page.text and "cfo@bigclient.example" in page.text
    link = re.search(r'href="(/api/v1/organizations/\d+/reports/\d+\.csv)"', page.text)
    assert link is not None and client.get(link.group(1)).status_code == 200  # the console's signed-in download
    assert client.post(f"/console/analytics/organizations/{world.org.id}/send-now", headers=h).status_code == 409


def test_page_refuses_other_brands(client: Any, db: Any, make: Any, world: World) -> None:
    h = _login(client, make.agent("supervisor", [world.other]))
    assert client.get(f"/console/analytics/organizations/{world.org.id}").status_code == 404
    form = {"enabled": "on", "period": "monthly", "locale": "en", "recipients": "x@y.example"}
    r = client.post(f"/console/analytics/organizations/{world.org.id}/report-settings", data=form, headers=h)
    assert r.status_code == 404
    assert world.org.name not in client.get("/console/analytics/organizations").text


def test_a_report_in_an_unknown_stored_format_is_refused_not_a_500(
    client: Any, db: Any, make: Any, world: World
) -> None:
    from kefu.analytics.models import OrgReport

    now = datetime(2026, 4, 1, tzinfo=UTC)
    row = OrgReport(
        brand_id=world.brand.id,
        organization_id=world.org.id,
        period_key="2026-03",
        period="monthly",
        start=now,
        end=now,
        locale="en",
        recipients=[],
        data={"format": 99},
    )
    db.add(row)
    db.commit()
    admin = make.token(make.agent("admin", [world.brand]))
    r = client.get(f"/api/v1/organizations/{world.org.id}/reports/{row.id}.csv", headers=admin)
    assert r.status_code == 409 and "format" in r.json()["detail"]


def test_statements_of_a_report_and_of_an_idle_job_run(db: Any, make: Any, world: World, count_queries: Any) -> None:
    """Measured: computing both periods' figures, and the hourly run when nothing is due (constant in organizations)."""
    from kefu.analytics.jobs import send_due_reports
    from kefu.analytics.org_reports import compute
    from kefu.customers.models import Organization

    with count_queries() as q:
        compute(db, world.org, "2026-03", now=APRIL)
    assert q.count <= 19, str(q)  # 2 periods × 7 metrics (percentiles: 1 more on SQLite) + brand + labels
    _mailbox(db, world.brand)
    _configure(db, world.org)
    for i in range(5):
        org = Organization(brand_id=world.brand.id, name=f"客戶 {i}")
        db.add(org)
        db.commit()
        _configure(db, org)
    assert send_due_reports(db, APRIL) == 6
    db.expire_all()
    with count_queries() as idle:
        assert send_due_reports(db, APRIL) == 0
    assert idle.count == 2, str(idle)  # the enabled settings, then the reports already made


def test_the_mail_reaches_an_smtp_relay_with_csv_and_pdf(
    client: Any,
    db: Any,
    make: Any,
    world: World,
    upstream: Any,  # noqa: F811
) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels import outbox

    captured, port = upstream
    cfg = {"address": "support@shop.example", "from_name": "客服中心", "smtp_host": "127.0.0.1", "smtp_port": port}
    create_inbox(db, world.brand, kind="email", name="客服信箱", config=cfg, actor=None)
    db.commit()
    admin = make.token(make.agent("admin", [world.brand]))
    base = f"/api/v1/organizations/{world.org.id}"
    body = {"enabled": True, "period": "monthly", "locale": "zh-TW", "recipients": ["ops@bigclient.example"]}
    assert client.put(f"{base}/report-settings", json=body, headers=admin).status_code == 200
    assert client.post(f"{base}/reports/send-now", json={"period_key": "2026-03"}, headers=admin).status_code == 200
    outbox.deliver_due()
    [msg] = captured.wait(1)
    assert captured.messages[0][1] == ["ops@bigclient.example"]
    assert msg["Subject"] == "大客戶股份有限公司 營運成效報告 2026-03" and msg["Auto-Submitted"] == "auto-generated"
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    csv_name, pdf_name = (f"org-report-{world.org.id}-2026-03.{ext}" for ext in ("csv", "pdf"))
    assert set(parts) == {csv_name, pdf_name}
    csv_bytes = parts[csv_name].get_payload(decode=True)
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and "新進案件" in csv_bytes.decode(
        "utf-8"
    )  # BOM: spreadsheets see UTF-8
    assert parts[pdf_name].get_payload(decode=True).startswith(b"%PDF-")
    html = msg.get_body(("html",))
    assert html is not None and "首次回應 SLA 達成率" in html.get_content()
    outbox.deliver_due()
    assert len(captured.messages) == 1  # delivered once


def test_report_files_are_not_reachable_as_conversation_attachments(
    client: Any, db: Any, make: Any, world: World
) -> None:
    """The e-mailed CSV/PDF are stored attachments of no conversation: the attachment downloads (the side path) must
    not hand them to a token the report itself refuses (scoped to conversations, no customers:read)."""
    from kefu.analytics.org_reports import send

    _mailbox(db, world.brand)
    _configure(db, world.org)
    report = send(db, world.org, "2026-03", None, now=APRIL)
    db.commit()
    assert report is not None
    files = [a["id"] for a in _outbox(db, world.brand.id)[0].payload["attachments"]]
    boss = make.agent("supervisor", [world.brand])
    narrow = make.token(boss, scopes=["conversations:read"])
    base = f"/api/v1/organizations/{world.org.id}/reports/{report.id}"
    assert client.get(f"{base}.csv", headers=narrow).status_code == 403
    for file_id in files:
        r = client.get(f"/api/v1/channels/attachments/{file_id}", headers=narrow)
        assert r.status_code == 404, (r.status_code, r.text[:200])
    _login(client, boss)
    for file_id in files:
        assert client.get(f"/console/attachments/{file_id}").status_code == 404
    assert client.get(f"{base}.csv").status_code == 200  # the report's own download stays
