"""Holidays of every year from the `holidays` package (#17): TW and CN 2026–2028, 调休 make-up days, overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kefu.sla.calendar import DEFAULT_CALENDAR_CONFIGS, BusinessCalendar, load_holiday_set

TPE = ZoneInfo("Asia/Taipei")
SHA = ZoneInfo("Asia/Shanghai")


def _business() -> BusinessCalendar:
    return BusinessCalendar(DEFAULT_CALENDAR_CONFIGS["business"])


@pytest.mark.parametrize(
    ("day", "is_open"),
    [
        ("2026-02-17", False),  # 春節 2026
        ("2026-02-23", True),
        ("2027-02-04", False),  # 除夕前一日 2027
        ("2027-02-05", False),  # 除夕
        ("2027-02-08", False),  # 初三
        ("2027-02-09", False),  # 補假
        ("2027-02-10", False),  # 補假
        ("2027-02-11", True),
        ("2027-10-11", False),  # 國慶日補假
        ("2028-01-24", False),  # 除夕前一日 2028
        ("2028-01-28", False),
        ("2028-01-31", True),
        ("2028-02-28", False),  # 和平紀念日
    ],
)
def test_default_business_calendar_closes_on_taiwan_holidays_of_every_year(day: str, is_open: bool) -> None:
    at = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=TPE)
    assert _business().is_open(at) is is_open


def test_a_ticket_before_the_2027_lunar_new_year_is_due_after_it() -> None:
    start = datetime(2027, 2, 3, 17, 0, tzinfo=TPE)  # Wednesday before the break
    due = _business().add_business_minutes(start, 120)
    assert due.astimezone(TPE) == datetime(2027, 2, 11, 10, 0, tzinfo=TPE)


@pytest.mark.parametrize(
    ("day", "is_open"),
    [
        ("2026-02-14", True),  # Saturday 春节调休上班
        ("2026-02-16", False),
        ("2026-10-10", True),  # Saturday 国庆调休上班
        ("2027-02-08", False),  # 春节 2027
        ("2027-10-04", False),
        ("2028-01-26", False),
        ("2028-01-31", True),
    ],
)
def test_mainland_calendar_has_public_holidays_and_make_up_workdays(day: str, is_open: bool) -> None:
    cal = BusinessCalendar({"name": "cn", "timezone": "Asia/Shanghai", "holiday_sets": ["cn"]})
    assert cal.is_open(datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=SHA)) is is_open


def test_region_sets_agree_with_the_bundled_official_2026_calendars_and_name_their_source() -> None:
    for region in ("tw", "cn"):
        full, official = load_holiday_set(region), load_holiday_set(f"{region}_2026")
        assert {d for d in full.holidays if d.year == 2026 and d.weekday() < 5} == set(official.holidays)
        assert {d for d in full.makeup_workdays if d.year == 2026} == set(official.makeup_workdays)
        assert "holidays" in full.source and f"{region}_2026" in full.source
    assert not [d for d in load_holiday_set("tw").makeup_workdays if d.year >= 2026]  # 補班 abolished (2025)


def test_admin_overrides_win_over_the_package_and_tickets_use_them(client: Any, make: Any, db: Any) -> None:
    from kefu.sla.service import calendars_for

    brand = make.brand()
    h = make.token(make.agent("admin"))
    cfg = {
        "name": "business",
        "timezone": "Asia/Shanghai",
        "holiday_sets": ["cn"],
        "makeup_workdays": ["2027-02-20"],  # a 调休 Saturday the package does not know yet
        "holidays": ["2027-03-01"],  # a company day off
    }
    r = client.post("/api/v1/sla/calendars", json={"brand_id": brand.id, "config": cfg}, headers=h)
    assert r.status_code == 201, r.text
    bad = {**cfg, "name": "x", "holiday_sets": ["tw_2099"]}
    assert (
        client.post("/api/v1/sla/calendars", json={"brand_id": brand.id, "config": bad}, headers=h).status_code == 422
    )
    cal = calendars_for(db, brand.id, None)["business"]
    assert cal.is_open(datetime(2027, 2, 20, 10, 0, tzinfo=SHA))  # override: make-up Saturday
    assert not cal.is_open(datetime(2027, 3, 1, 10, 0, tzinfo=SHA))  # override: day off
    assert not cal.is_open(datetime(2027, 2, 8, 10, 0, tzinfo=SHA))  # package: Spring Festival
