"""Weekly report / monthly white paper mailed to each brand's leads (seed promise #7: generated every week)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.analytics.world import T0, World, build

# Monday 2026-03-09 08:30 Taipei: the week of Monday 2 March (Taipei days) is due.
MON_0830 = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
MON_0759 = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)


@pytest.fixture
def world(db: Any, make: Any) -> World:
    w = build(db, make)
    w.brand.created_at = T0  # periods that ended before the brand existed are never reported
    w.other.created_at = T0
    db.commit()
    return w


def _mailbox(db: Any, brand: Any, address: str = "support@shop.example") -> Any:
    from kefu.brands.service import create_inbox

    cfg = {"address": address, "from_name": "客服中心", "smtp_host": "127.0.0.1", "smtp_port": 2525}
    box = create_inbox(db, brand, kind="email", name="客服信箱", config=cfg, actor=None)
    db.commit()
    return box


def _lead(db: Any, make: Any, brand: Any, locale: str = "zh-TW", role: str = "agent") -> Any:
    from kefu.auth.models import Team, TeamMember

    agent = make.agent(role, [brand])
    agent.locale = locale
    team = Team(brand_id=brand.id, slug=f"t{agent.id}", name="客服一組")
    db.add(team)
    db.flush()
    db.add(TeamMember(team_id=team.id, agent_id=agent.id, is_lead=True))
    db.commit()
    return agent


def _outbox(db: Any, brand_id: int) -> list[Any]:
    from kefu.channels.models import OutboxMessage

    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.brand_id == brand_id).order_by(OutboxMessage.id)))


def test_periods_are_the_brand_timezones_week_and_month_from_monday_0800() -> None:
    from kefu.analytics.brand_reports import due_period

    key, start, end = due_period("weekly", MON_0830, "Asia/Taipei")
    assert key == "2026-W10"
    assert (start, end) == (datetime(2026, 3, 1, 16, tzinfo=UTC), datetime(2026, 3, 8, 16, tzinfo=UTC))
    # 07:59 Taipei on that Monday: last week is not due yet, the one before still is the latest
    assert due_period("weekly", MON_0759, "Asia/Taipei")[0] == "2026-W09"
    # the same instant is still Sunday in Los Angeles: the week before
    assert due_period("weekly", MON_0830, "America/Los_Angeles")[0] == "2026-W09"
    key, start, end = due_period("monthly", datetime(2026, 4, 1, 0, 30, tzinfo=UTC), "Asia/Taipei")
    assert (key, start, end) == (
        "2026-03",
        datetime(2026, 2, 28, 16, tzinfo=UTC),
        datetime(2026, 3, 31, 16, tzinfo=UTC),
    )
    assert due_period("monthly", datetime(2026, 3, 31, 23, 59, tzinfo=UTC), "Asia/Taipei")[0] == "2026-02"


def test_monday_0830_sends_once_to_the_leads_in_their_language_and_never_again(
    db: Any, make: Any, world: World
) -> None:
    from kefu.analytics.jobs import send_due_brand_reports as send_due
    from kefu.analytics.models import BrandReport

    _mailbox(db, world.brand)
    zh, en = _lead(db, make, world.brand), _lead(db, make, world.brand, "en")
    make.agent("agent", [world.brand])  # a plain agent of the brand: not a recipient
    _lead(db, make, world.other)  # another brand's lead: never included
    assert send_due(db, MON_0759) == 0  # the week is not due before 08:00; the one before predates the brand
    assert send_due(db, MON_0830) == 1
    rows = _outbox(db, world.brand.id)
    assert sorted(r.recipient for r in rows) == sorted([zh.email, en.email])
    by = {r.recipient: r.payload for r in rows}
    assert by[en.email]["subject"].startswith("Weekly") and "Key service figures" in by[en.email]["text"]
    assert by[en.email]["html"].startswith('<!doctype html><html lang="en">') and "<script" not in by[en.email]["html"]
    assert "服務" in by[zh.email]["subject"] or "週" in by[zh.email]["subject"]
    assert all(p["attachments"][0]["content_type"] == "application/pdf" for p in by.values())
    assert by[zh.email]["attachments"][0]["filename"].endswith("2026-W10.pdf")
    assert _outbox(db, world.other.id) == []
    # a rerun, a later tick the same week or a second worker sends nothing more
    assert send_due(db, MON_0830) == 0
    assert send_due(db, datetime(2026, 3, 12, tzinfo=UTC)) == 0
    assert len(_outbox(db, world.brand.id)) == 2
    report = db.scalar(select(BrandReport))
    assert (report.kind, report.period_key, sorted(report.recipients)) == ("weekly", "2026-W10", sorted([zh.id, en.id]))
    # the next Monday is a new week
    assert send_due(db, datetime(2026, 3, 16, 0, 30, tzinfo=UTC)) == 1
    assert db.scalar(select(func.count()).select_from(BrandReport)) == 2
    # 1 April 08:30 Taipei: the March white paper (and nothing for the week already sent)
    assert send_due(db, datetime(2026, 4, 1, 0, 30, tzinfo=UTC)) == 2  # weekly W13 + monthly 2026-03
    kinds = set(db.scalars(select(BrandReport.period_key).where(BrandReport.kind == "monthly")))
    assert kinds == {"2026-03"}


def test_a_concurrent_second_insert_of_the_same_period_sends_nothing(db: Any, make: Any, world: World) -> None:
    from kefu.analytics import brand_reports
    from kefu.analytics.models import BrandReport

    _mailbox(db, world.brand)
    _lead(db, make, world.brand)
    key, start, end = brand_reports.due_period("weekly", MON_0830, "Asia/Taipei")
    db.add(BrandReport(brand_id=world.brand.id, kind="weekly", period_key=key, start=start, end=end))
    db.commit()
    assert brand_reports.send(db, world.brand, "weekly", MON_0830) is None
    assert _outbox(db, world.brand.id) == []


def test_opt_out_roles_and_turning_it_off(db: Any, make: Any, world: World) -> None:
    from kefu.analytics import brand_reports
    from kefu.analytics.jobs import send_due_brand_reports

    _mailbox(db, world.brand)
    lead, quiet = _lead(db, make, world.brand), _lead(db, make, world.brand)
    sup = make.agent("supervisor", [world.brand])
    make.agent("supervisor", [world.other])
    brand_reports.save_settings(db, world.brand, None, {"roles": ["leads", "supervisors"], "opt_out": [quiet.id]})
    db.commit()
    assert [a.id for a in brand_reports.recipients(db, world.brand.id, brand_reports.settings_of(world.brand))] == [
        lead.id,
        sup.id,
    ]
    brand_reports.save_settings(db, world.brand, None, {"enabled": False})
    db.commit()
    assert send_due_brand_reports(db, MON_0830) == 0
    brand_reports.save_settings(db, world.brand, None, {"roles": ["leads", "supervisors"], "opt_out": [quiet.id]})
    db.commit()
    assert send_due_brand_reports(db, MON_0830) == 1
    assert sorted(r.recipient for r in _outbox(db, world.brand.id)) == sorted([lead.email, sup.email])


def test_no_mail_route_sends_nothing_and_the_page_says_so(client: Any, db: Any, make: Any, world: World) -> None:
    from kefu.analytics.jobs import send_due_brand_reports as send_due
    from kefu.analytics.models import BrandReport

    _lead(db, make, world.brand)
    assert send_due(db, MON_0830) == 0
    assert db.scalar(select(func.count()).select_from(BrandReport)) == 0
    sup = make.agent("supervisor", [world.brand])
    login = client.post("/login", data={"email": sup.email, "password": "correct horse 1"}, follow_redirects=False)
    assert login.status_code in (302, 303), login.text
    page = client.get(f"/console/analytics/reports/weekly?brand_id={world.brand.id}&lang=en")
    assert page.status_code == 200 and "has no e-mail inbox to send from" in page.text
    # once the brand has an inbox it goes out, and the page lists it with its download links
    _mailbox(db, world.brand)
    assert send_due(db, MON_0830) == 1
    page = client.get(f"/console/analytics/reports/weekly?brand_id={world.brand.id}&lang=en")
    assert "2026-W10" in page.text and "has no e-mail inbox" not in page.text
    assert "/api/v1/analytics/reports/weekly.pdf?brand_id=" in page.text


def test_api_settings_validation_and_brand_access(client: Any, db: Any, make: Any, world: World) -> None:
    _mailbox(db, world.brand)
    lead = _lead(db, make, world.brand)
    admin = make.token(make.agent("admin", [world.brand]))
    base = f"/api/v1/brands/{world.brand.id}/report-mail"
    got = client.get(base, headers=admin).json()
    assert got["sending"] is True and got["roles"] == ["leads"] and got["recipients"] == 1 and got["mail_route"]
    assert client.put(base, json={"roles": ["bosses"]}, headers=admin).status_code == 422
    assert client.put(base, json={"enabled": "maybe"}, headers=admin).status_code == 422
    r = client.put(base, json={"enabled": False, "opt_out": [lead.id]}, headers=admin)
    assert r.status_code == 200 and r.json()["sending"] is False and r.json()["recipients"] == 0, r.text
    other_admin = make.token(make.agent("supervisor", [world.other]))
    assert client.get(base, headers=other_admin).status_code in (403, 404)
    assert client.put(base, json={}, headers=other_admin).status_code in (403, 404)
    assert client.get(f"/api/v1/brands/{world.brand.id}/mailed-reports", headers=admin).json() == []


def test_admin_brands_form_turns_it_off_and_picks_roles(client: Any, db: Any, make: Any, world: World) -> None:
    from kefu.analytics.brand_reports import settings_of
    from kefu.brands.models import Brand
    from tests.web.test_workspace import _login

    h = _login(client, make.agent("admin", [world.brand]))
    h.pop("HX-Request")
    page = client.get("/admin?tab=brands&lang=en", headers=h)
    assert page.status_code == 200 and "Weekly report mail" in page.text
    url = f"/admin/brands/{world.brand.id}/report-mail"
    r = client.post(url, data={"enabled": "0", "roles": ["leads", "supervisors"]}, headers=h)
    assert r.status_code == 200, r.text
    db.expire_all()
    cfg = settings_of(db.get(Brand, world.brand.id))
    assert cfg.enabled is False and cfg.roles == ["leads", "supervisors"]
    assert client.post(url, data={"enabled": "x", "roles": ["bosses"]}, headers=h).status_code == 422
    db.expire_all()
    assert settings_of(db.get(Brand, world.brand.id)).enabled is False
