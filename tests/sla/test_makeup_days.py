"""Lunar New Year and make-up workdays (调休/補班) for 2026–2028 in Taiwan and mainland China (#17).

The `holidays` package gives every year's public holidays; make-up workdays come from what it exposes for them
(``weekend_workdays`` and its substituted days' names), which holidays 0.109 carries for CN up to 2026 only. Later
CN years (and a company's own 補班 in Taiwan) are admin overrides on the calendar, and the API says which years
still need them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kefu.sla.calendar import BusinessCalendar, load_holiday_set, missing_makeup_years, substituted_from
from tests.tickets.helpers import Clock, install_clock, tw

ZONES = {"tw": ZoneInfo("Asia/Taipei"), "cn": ZoneInfo("Asia/Shanghai")}


def _calendar(region: str, **overrides: Any) -> BusinessCalendar:
    return BusinessCalendar({"name": region, "timezone": ZONES[region].key, "holiday_sets": [region], **overrides})


@pytest.mark.parametrize(
    ("region", "start", "due"),
    [
        ("tw", "2026-02-13T17:00", "2026-02-23T10:00"),  # 春節 2026-02-14 – 02-22
        ("tw", "2027-02-03T17:00", "2027-02-11T10:00"),  # 2027-02-04 – 02-10 (incl. 補假)
        ("tw", "2028-01-21T17:00", "2028-01-31T10:00"),  # 2028-01-22 – 01-30
        ("cn", "2026-02-14T17:00", "2026-02-24T10:00"),  # a 调休 Saturday, then 春节 02-15 – 02-23
        ("cn", "2027-02-04T17:00", "2027-02-11T10:00"),  # 2027-02-05 – 02-10 (the package's estimate)
        ("cn", "2028-01-24T17:00", "2028-01-31T10:00"),  # 2028-01-25 – 01-28, then the weekend
    ],
)
def test_lunar_new_year_is_not_sla_time(region: str, start: str, due: str) -> None:
    zone = ZONES[region]
    at = datetime.fromisoformat(start).replace(tzinfo=zone)
    # Two business hours from 17:00 on the last working day: one hour before the break, one after it.
    assert _calendar(region).add_business_minutes(at, 120).astimezone(zone) == datetime.fromisoformat(due).replace(
        tzinfo=zone
    )


@pytest.mark.parametrize(
    ("region", "friday", "saturday", "override"),
    [
        ("cn", "2026-02-13", "2026-02-14", None),  # from the package (国办发明电〔2025〕7号)
        ("cn", "2026-02-27", "2026-02-28", None),
        ("cn", "2027-02-19", "2027-02-20", "2027-02-20"),  # admin override until the package has 2027
        ("cn", "2028-02-04", "2028-02-05", "2028-02-05"),
        ("tw", "2026-03-06", "2026-03-07", "2026-03-07"),  # a company's own 補班 (abolished nationally)
        ("tw", "2027-02-19", "2027-02-20", "2027-02-20"),
        ("tw", "2028-02-04", "2028-02-05", "2028-02-05"),
    ],
)
def test_make_up_saturdays_are_sla_time(region: str, friday: str, saturday: str, override: str | None) -> None:
    zone = ZONES[region]
    start = datetime.fromisoformat(f"{friday}T17:00").replace(tzinfo=zone)
    cal = _calendar(region, makeup_workdays=[override] if override else [])
    sat = date.fromisoformat(saturday)
    assert sat.weekday() == 5 and cal.day_kind(sat) == "makeup"
    assert cal.add_business_minutes(start, 120).astimezone(zone) == datetime.fromisoformat(f"{saturday}T10:00").replace(
        tzinfo=zone
    )
    if override:  # without it, the Saturday is closed and the deadline moves to Monday
        plain = _calendar(region).add_business_minutes(start, 120).astimezone(zone)
        assert plain.weekday() == 0 and plain.hour == 10


def test_make_up_workdays_come_from_the_packages_weekend_workdays_and_substituted_day_names() -> None:
    cn = load_holiday_set("cn")
    got = sorted(d.isoformat() for d in cn.makeup_workdays if d.year == 2026)
    assert got == ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert 2026 in cn.makeup_years and 2027 not in cn.makeup_years  # holidays 0.109 has no 2027 notice yet
    assert load_holiday_set("tw").makeup_years[-1] == 2025  # 補班 abolished from 2025 on
    # The three label formats of the package's substituted days name the workday they moved.
    assert substituted_from("Day off (substituted from 02/14/2026)") == [date(2026, 2, 14)]
    assert substituted_from("休息日（由 2026-02-28 调休）") == [date(2026, 2, 28)]
    assert substituted_from("放假日（2024-02-17 補班）") == [date(2024, 2, 17)]
    assert substituted_from("春节") == []
    assert missing_makeup_years("cn", date(2026, 12, 6)) == [2027, 2028]
    assert missing_makeup_years("tw", date(2026, 12, 6)) == []


def test_the_api_lists_holiday_sets_and_the_years_that_still_need_make_up_overrides(
    client: Any, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock: Clock = install_clock(monkeypatch, tw(2026, 12, 6, 9, 0))
    agent = make.token(make.agent("agent", [make.brand()]))
    r = client.get("/api/v1/sla/holiday-sets", headers=agent)
    assert r.status_code == 200, r.text
    sets = {s["name"]: s for s in r.json()}
    assert sets["cn"]["missing_makeup_years"] == [2027, 2028] and 2026 in sets["cn"]["makeup_years"]
    assert sets["cn"]["first_year"] <= 2026 <= 2028 <= sets["cn"]["last_year"]
    assert "holidays" in sets["cn"]["source"] and sets["tw"]["missing_makeup_years"] == []
    clock.set(tw(2025, 6, 1))
    r = client.get("/api/v1/sla/holiday-sets", headers=agent)
    assert {s["name"]: s for s in r.json()}["cn"]["missing_makeup_years"] == [2027]
