"""Tests for kefu.sla.calendar: exact deadlines, DST, holidays, 補班, pauses, consistency."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kefu.sla.calendar import (
    BusinessCalendar,
    CalendarConfig,
    SlaDuration,
    available_holiday_sets,
    default_calendars,
    load_holiday_set,
)

TW = ZoneInfo("Asia/Taipei")
SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
LUNCH = ["09:00-12:00", "13:00-18:00"]
WEEKDAYS5 = ("mon", "tue", "wed", "thu", "fri")


def tw(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=TW)


def sh(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


def ny(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=NY)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def make_tw() -> BusinessCalendar:
    return BusinessCalendar(
        {
            "name": "tw",
            "timezone": "Asia/Taipei",
            "weekly_hours": {d: LUNCH for d in WEEKDAYS5},
            "holiday_sets": ["tw_2026"],
        }
    )


# Sample taken from the DGPA 2025 (民國114年) calendar: 1/27 彈性放假, 1/28 除夕, 1/29-1/31 春節,
# and Saturday 2/8 補行上班.  Kept in the tests only; it illustrates 補班 handling.
TW_2025_LNY = {
    "holidays": {
        "2025-01-27": "彈性放假",
        "2025-01-28": "農曆除夕",
        "2025-01-29": "春節",
        "2025-01-30": "春節",
        "2025-01-31": "春節",
    },
    "makeup_workdays": ["2025-02-08"],
}


def make_tw_2025() -> BusinessCalendar:
    return BusinessCalendar(
        {
            "name": "tw2025",
            "timezone": "Asia/Taipei",
            "weekly_hours": {d: LUNCH for d in WEEKDAYS5},
            **TW_2025_LNY,
        }
    )


def make_cn() -> BusinessCalendar:
    return BusinessCalendar({"name": "cn", "timezone": "Asia/Shanghai", "holiday_sets": ["cn_2026"]})


def make_ny() -> BusinessCalendar:
    return BusinessCalendar(
        {"name": "ny", "timezone": "America/New_York", "weekly_hours": {d: "09:00-17:00" for d in WEEKDAYS5}}
    )


def make_ny_allday() -> BusinessCalendar:
    week = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return BusinessCalendar(
        {
            "name": "ny-allday",
            "timezone": "America/New_York",
            "weekly_hours": {d: "00:00-24:00" for d in week},
        }
    )


def make_ny_24x7() -> BusinessCalendar:
    return BusinessCalendar({"name": "ny-24x7", "timezone": "America/New_York", "mode": "24x7"})


@pytest.fixture
def cal() -> BusinessCalendar:
    return make_tw()


# --------------------------------------------------------------------------- config


def test_config_from_dict_normalises_and_round_trips() -> None:
    cfg = CalendarConfig.model_validate(
        {
            "timezone": "Asia/Shanghai",
            "weekly_hours": {"Monday": ["13:00-18:00", "9:00-12:00"], "tue": "09:00-12:00", "wed": []},
            "holidays": ["2026-01-01"],
            "makeup_workdays": {"2026-01-04": "Monday", "2026-02-14": ["10:00-15:00"]},
            "special_hours": {"2026-01-05": "10:00-16:00"},
        }
    )
    assert cfg.weekly_hours == {"mon": LUNCH, "tue": ["09:00-12:00"], "wed": []}
    assert cfg.holidays == {date(2026, 1, 1): ""}
    assert cfg.makeup_workdays == {date(2026, 1, 4): "mon", date(2026, 2, 14): ["10:00-15:00"]}
    again = CalendarConfig.model_validate_json(cfg.model_dump_json())
    assert again == cfg
    cal = BusinessCalendar.from_json(cfg.model_dump_json())
    assert cal.is_open(sh(2026, 1, 4, 9, 30))  # Sunday worked as a Monday
    assert not cal.is_open(sh(2026, 1, 4, 12, 30))  # ...including Monday's lunch break
    assert cal.is_open(sh(2026, 2, 14, 14, 59))
    assert not cal.is_open(sh(2026, 2, 14, 15, 0))
    assert not cal.is_open(sh(2026, 1, 5, 9, 30))  # special hours replace Monday's
    assert cal.is_open(sh(2026, 1, 5, 15, 30))


def test_adjacent_ranges_merge() -> None:
    cfg = CalendarConfig(weekly_hours={"mon": ["09:00-12:00", "12:00-13:00"]})
    assert cfg.weekly_hours["mon"] == ["09:00-13:00"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weekly_hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "overlapping"),
        ({"weekly_hours": {"mon": ["22:00-02:00"]}}, "overnight"),
        ({"weekly_hours": {"mon": ["24:30-25:00"]}}, "invalid time"),
        ({"weekly_hours": {"mon": ["9am-5pm"]}}, "HH:MM-HH:MM"),
        ({"weekly_hours": {"funday": ["09:00-12:00"]}}, "funday"),
        ({"timezone": "Asia/Taipeii"}, "unknown IANA timezone"),
        ({"holiday_sets": ["tw_1999"]}, "unknown holiday set"),
        ({"holiday_sets": ["../etc/passwd"]}, "unknown holiday set"),
        ({"mode": "24x7", "holidays": ["2026-01-01"]}, "always open"),
        ({"holidays": ["2026-01-03"], "makeup_workdays": ["2026-01-03"]}, "both holiday and make-up"),
        ({"weekly_hours": {}}, "never opens"),
        ({"makeup_workdays": {"2026-01-03": "sat"}}, "resolves to no opening hours"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_config_validation_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarConfig.model_validate(data)


def test_holiday_sets_are_bundled_and_consistent() -> None:
    assert {"tw_2026", "cn_2026"} <= set(available_holiday_sets())
    tw_set = load_holiday_set("tw_2026")
    # 115年辦公日曆表: 120 days off = 104 weekend days + 16 weekday holidays, no 補班.
    assert len(tw_set.holidays) == 16
    assert all(d.weekday() < 5 and d.year == 2026 for d in tw_set.holidays)
    assert tw_set.makeup_workdays == {}
    cn_set = load_holiday_set("cn_2026")
    assert all(d.weekday() < 5 for d in cn_set.holidays)
    assert all(d.weekday() >= 5 for d in cn_set.makeup_workdays)
    assert len(cn_set.makeup_workdays) == 6


def test_explicit_config_overrides_bundled_data() -> None:
    cal = BusinessCalendar(
        {
            "holiday_sets": ["tw_2026"],
            "makeup_workdays": ["2026-02-20"],  # a Friday holiday in the bundled set, worked anyway
            "special_hours": {"2026-02-16": ["09:00-12:00"]},  # 除夕 half day
        }
    )
    assert cal.is_open(tw(2026, 2, 20, 10))
    assert cal.is_open(tw(2026, 2, 16, 10))
    assert not cal.is_open(tw(2026, 2, 16, 13))
    assert not cal.is_open(tw(2026, 2, 17, 10))


def test_naive_datetimes_and_bad_amounts_raise(cal: BusinessCalendar) -> None:
    naive = datetime(2026, 1, 12, 10)
    aware = tw(2026, 1, 12, 10)
    for call in (
        lambda: cal.is_open(naive),
        lambda: cal.next_open(naive),
        lambda: cal.add_business_minutes(naive, 5),
        lambda: cal.add_business_days(naive, 1),
        lambda: cal.add_calendar(naive, minutes=5),
        lambda: cal.business_minutes_between(naive, aware),
        lambda: cal.business_minutes_between(aware, naive),
        lambda: cal.deadline_with_pauses(aware, SlaDuration(5, "business_minutes"), [(naive, None)]),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()
    with pytest.raises(ValueError, match=">= 0"):
        cal.add_business_minutes(aware, -1)
    with pytest.raises(ValueError, match="finite"):
        cal.add_business_minutes(aware, float("nan"))
    with pytest.raises(ValueError, match="int"):
        cal.add_business_days(aware, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit"):
        SlaDuration(5, "fortnights")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pause ends before"):
        cal.deadline_with_pauses(aware, SlaDuration(5, "business_minutes"), [(aware, aware - timedelta(1))])


def test_results_are_utc(cal: BusinessCalendar) -> None:
    result = cal.add_business_minutes(tw(2026, 1, 12, 10), 5)
    assert result.tzinfo is UTC
    assert result == utc(2026, 1, 12, 2, 5)
    assert cal.add_business_days(tw(2026, 1, 12, 10), 1).tzinfo is UTC
    assert cal.add_calendar(tw(2026, 1, 12, 10), days=1).tzinfo is UTC
    assert cal.next_open(tw(2026, 1, 12, 10)).tzinfo is UTC


# --------------------------------------------------------------------------- open / next open


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (tw(2026, 1, 12, 8, 59, 59), False),
        (tw(2026, 1, 12, 9), True),
        (tw(2026, 1, 12, 11, 59), True),
        (tw(2026, 1, 12, 12), False),  # lunch; intervals are half-open
        (tw(2026, 1, 12, 13), True),
        (tw(2026, 1, 12, 18), False),
        (tw(2026, 1, 10, 10), False),  # Saturday
        (tw(2026, 2, 17, 10), False),  # 春節
        (tw(2026, 1, 1, 10), False),  # 開國紀念日
        (tw(2026, 2, 23, 10), True),
    ],
)
def test_is_open(cal: BusinessCalendar, at: datetime, expected: bool) -> None:
    assert cal.is_open(at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (tw(2026, 1, 9, 19), tw(2026, 1, 12, 9)),  # Friday evening → Monday
        (tw(2026, 1, 12, 12, 30), tw(2026, 1, 12, 13)),  # lunch
        (tw(2026, 1, 12, 10, 15), tw(2026, 1, 12, 10, 15)),  # already open
        (tw(2026, 1, 12, 18), tw(2026, 1, 13, 9)),
        (tw(2026, 2, 13, 18), tw(2026, 2, 23, 9)),  # Lunar New Year
        (tw(2025, 12, 31, 18), tw(2026, 1, 2, 9)),  # across the year boundary and 元旦
    ],
)
def test_next_open(cal: BusinessCalendar, at: datetime, expected: datetime) -> None:
    assert cal.next_open(at) == expected


# --------------------------------------------------------------------------- business minutes


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (tw(2026, 1, 9, 19), 30, tw(2026, 1, 12, 9, 30)),  # Friday-evening ticket
        (tw(2026, 1, 9, 17, 30), 60, tw(2026, 1, 12, 9, 30)),
        (tw(2026, 1, 10, 3), 15, tw(2026, 1, 12, 9, 15)),  # Saturday
        (tw(2026, 1, 12, 11, 45), 30, tw(2026, 1, 12, 13, 15)),  # over lunch
        (tw(2026, 1, 12, 12, 10), 10, tw(2026, 1, 12, 13, 10)),  # starts in lunch
        (tw(2026, 1, 12, 9), 180, tw(2026, 1, 12, 12)),  # uses the morning exactly
        (tw(2026, 1, 12, 9), 480, tw(2026, 1, 12, 18)),  # whole day ends at 18:00, not next 09:00
        (tw(2026, 1, 12, 9), 481, tw(2026, 1, 13, 9, 1)),
        (tw(2026, 1, 12, 10), 0.5, tw(2026, 1, 12, 10, 0, 30)),
        (tw(2026, 1, 10, 3), 0, tw(2026, 1, 12, 9)),  # zero minutes → clock start
        (tw(2026, 2, 12, 17), 120, tw(2026, 2, 13, 10)),
        (tw(2026, 2, 13, 17), 120, tw(2026, 2, 23, 10)),  # 9-day Lunar New Year break
        (tw(2025, 12, 31, 17, 30), 60, tw(2026, 1, 2, 9, 30)),  # year boundary + 元旦
        (tw(2026, 12, 24, 17), 120, tw(2026, 12, 28, 10)),  # 行憲紀念日 (Fri) + weekend
        (tw(2026, 2, 26, 17), 61, tw(2026, 3, 2, 9, 1)),  # 228 補假 Friday
        (tw(2026, 1, 5, 9), 480 * 5, tw(2026, 1, 9, 18)),  # a full week
        (tw(2026, 1, 5, 9), 480 * 5 + 1, tw(2026, 1, 12, 9, 1)),
    ],
)
def test_add_business_minutes_taiwan(
    cal: BusinessCalendar, start: datetime, minutes: float, expected: datetime
) -> None:
    assert cal.add_business_minutes(start, minutes) == expected


def test_makeup_saturday_2025() -> None:
    cal = make_tw_2025()
    assert cal.is_open(tw(2025, 2, 8, 10))  # 補班 Saturday
    assert not cal.is_open(tw(2025, 2, 8, 12, 30))  # ...with the normal lunch break
    assert not cal.is_open(tw(2025, 2, 15, 10))  # an ordinary Saturday
    assert cal.add_business_minutes(tw(2025, 2, 7, 17), 120) == tw(2025, 2, 8, 10)
    assert cal.add_business_minutes(tw(2025, 1, 24, 17), 120) == tw(2025, 2, 3, 10)
    assert cal.business_minutes_between(tw(2025, 2, 7, 9), tw(2025, 2, 10, 9)) == 960
    assert cal.add_business_days(tw(2025, 2, 7, 10), 1) == tw(2025, 2, 8, 10)
    assert cal.add_business_days(tw(2025, 1, 24, 10), 1) == tw(2025, 2, 3, 10)
    assert cal.add_business_days(tw(2025, 1, 24, 10), 6) == tw(2025, 2, 8, 10)


def test_china_2026_tiaoxiu() -> None:
    cal = make_cn()  # default hours: Mon-Fri 09:00-18:00
    assert cal.add_business_minutes(sh(2026, 2, 13, 17), 120) == sh(2026, 2, 14, 10)  # 调休 Saturday
    assert cal.add_business_minutes(sh(2026, 2, 14, 17), 120) == sh(2026, 2, 24, 10)  # 春节 2/15-2/23
    assert cal.add_business_minutes(sh(2025, 12, 31, 17), 120) == sh(2026, 1, 4, 10)  # works Sunday 1/4
    assert cal.add_business_minutes(sh(2026, 9, 30, 17), 120) == sh(2026, 10, 8, 10)  # 国庆 10/1-10/7
    assert cal.is_open(sh(2026, 10, 10, 9))  # Saturday 10/10 works in mainland China
    assert cal.add_business_days(sh(2026, 4, 30, 10), 1) == sh(2026, 5, 6, 10)  # 劳动节 5/1-5/5


def test_special_hours_half_day(cal: BusinessCalendar) -> None:
    half = BusinessCalendar(
        {
            "weekly_hours": {d: LUNCH for d in WEEKDAYS5},
            "holiday_sets": ["tw_2026"],
            "special_hours": {"2026-02-13": ["09:00-12:00"]},  # last day before Lunar New Year
        }
    )
    assert half.add_business_minutes(tw(2026, 2, 13, 11), 90) == tw(2026, 2, 23, 9, 30)
    assert half.next_open(tw(2026, 2, 13, 12)) == tw(2026, 2, 23, 9)


def test_late_opening_desk_with_sparse_hours() -> None:
    # Only Saturdays 10:00-14:00: a single week may be all the business time there is.
    cal = BusinessCalendar({"weekly_hours": {"sat": "10:00-14:00"}})
    assert cal.add_business_minutes(tw(2026, 1, 12, 9), 240) == tw(2026, 1, 17, 14)
    assert cal.add_business_minutes(tw(2026, 1, 12, 9), 241) == tw(2026, 1, 24, 10, 1)
    assert cal.add_business_minutes(tw(2026, 1, 12, 9), 240 * 52) == tw(2027, 1, 9, 14)


def test_calendar_without_future_hours_raises() -> None:
    cal = BusinessCalendar({"weekly_hours": {}, "special_hours": {"2026-01-10": ["10:00-11:00"]}})
    assert cal.add_business_minutes(tw(2026, 1, 1), 60) == tw(2026, 1, 10, 11)
    with pytest.raises(ValueError, match="no opening hours"):
        cal.add_business_minutes(tw(2026, 1, 1), 61)
    with pytest.raises(ValueError, match="no opening hours"):
        cal.next_open(tw(2026, 1, 10, 11))
    with pytest.raises(ValueError, match="no opening hours"):
        cal.add_business_days(tw(2026, 1, 1), 2)


# --------------------------------------------------------------------------- between


def test_business_minutes_between(cal: BusinessCalendar) -> None:
    assert cal.business_minutes_between(tw(2026, 1, 9, 17), tw(2026, 1, 12, 10)) == 120
    assert cal.business_minutes_between(tw(2026, 1, 12, 10), tw(2026, 1, 9, 17)) == -120
    assert cal.business_minutes_between(tw(2026, 1, 12, 12), tw(2026, 1, 12, 13)) == 0
    assert cal.business_minutes_between(tw(2026, 1, 12, 10), tw(2026, 1, 12, 10)) == 0
    assert cal.business_minutes_between(tw(2026, 1, 5), tw(2026, 1, 12)) == 5 * 480
    assert cal.business_minutes_between(tw(2026, 1, 12, 10, 0, 30), tw(2026, 1, 12, 10, 1)) == 0.5
    # 2026: 261 weekdays - 16 weekday holidays = 245 business days of 8 h.
    assert cal.business_minutes_between(tw(2026, 1, 1), tw(2027, 1, 1)) == 245 * 480


# --------------------------------------------------------------------------- business days


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (tw(2026, 1, 9, 17), 1, tw(2026, 1, 12, 17)),  # Friday 17:00 → Monday 17:00
        (tw(2026, 1, 9, 20), 1, tw(2026, 1, 12, 18)),  # Friday night → end of Monday
        (tw(2026, 1, 10, 11), 1, tw(2026, 1, 12, 18)),  # Saturday → end of Monday
        (tw(2026, 1, 12, 7, 30), 1, tw(2026, 1, 12, 18)),  # before opening → end of today
        (tw(2026, 1, 12, 9), 1, tw(2026, 1, 12, 18)),  # exactly at opening → end of today
        (tw(2026, 1, 12, 10, 15), 1, tw(2026, 1, 13, 10, 15)),
        (tw(2026, 1, 12, 10, 15), 5, tw(2026, 1, 19, 10, 15)),
        (tw(2026, 1, 12, 12, 30), 1, tw(2026, 1, 13, 13)),  # lunch start: clock starts 13:00
        (tw(2026, 1, 12, 18), 1, tw(2026, 1, 13, 18)),  # after close → end of next day
        (tw(2026, 1, 12, 18), 3, tw(2026, 1, 15, 18)),
        (tw(2026, 2, 12, 15), 1, tw(2026, 2, 13, 15)),
        (tw(2026, 2, 13, 15), 1, tw(2026, 2, 23, 15)),  # over Lunar New Year
        (tw(2026, 2, 9, 10), 5, tw(2026, 2, 23, 10)),
        (tw(2026, 2, 14, 10), 1, tw(2026, 2, 23, 18)),
        (tw(2026, 2, 13, 16), 5, tw(2026, 3, 2, 16)),  # skips 228 補假 (Fri 2/27) too
        (tw(2025, 12, 31, 16), 1, tw(2026, 1, 2, 16)),  # year boundary + 元旦
        (tw(2026, 1, 10, 11), 0, tw(2026, 1, 12, 9)),  # zero days → clock start
    ],
)
def test_add_business_days_taiwan(cal: BusinessCalendar, start: datetime, days: int, expected: datetime) -> None:
    assert cal.add_business_days(start, days) == expected


def test_add_business_days_clamps_into_short_days() -> None:
    base = {"weekly_hours": {d: LUNCH for d in WEEKDAYS5}}
    short = BusinessCalendar({**base, "special_hours": {"2026-01-13": ["09:00-12:00"]}})
    assert short.add_business_days(tw(2026, 1, 12, 17), 1) == tw(2026, 1, 13, 12)  # after its close
    late = BusinessCalendar({**base, "special_hours": {"2026-01-13": ["10:00-18:00"]}})
    assert late.add_business_days(tw(2026, 1, 12, 9, 30), 1) == tw(2026, 1, 13, 10)  # before its opening
    split = BusinessCalendar({**base, "special_hours": {"2026-01-13": ["09:00-11:00", "14:00-18:00"]}})
    assert split.add_business_days(tw(2026, 1, 12, 13, 30), 1) == tw(2026, 1, 13, 11)  # in its break


def test_add_business_days_matches_day_counting_reference(cal: BusinessCalendar) -> None:
    holidays = set(load_holiday_set("tw_2026").holidays)

    def reference(start: date, n: int) -> date:
        day = start
        while n:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in holidays:
                n -= 1
        return day

    for n in (1, 2, 7, 23, 60, 120, 200, 245):
        expected = reference(date(2026, 1, 5), n)
        assert cal.add_business_days(tw(2026, 1, 5, 10, 30), n) == datetime.combine(expected, time(10, 30), tzinfo=TW)


# --------------------------------------------------------------------------- calendar time


def test_add_calendar(cal: BusinessCalendar) -> None:
    assert cal.add_calendar(tw(2026, 1, 9, 10), days=15) == tw(2026, 1, 24, 10)  # Saturday is fine
    assert cal.add_calendar(tw(2026, 2, 13, 22), minutes=90) == tw(2026, 2, 13, 23, 30)
    assert cal.add_calendar(tw(2026, 12, 31, 23), days=1, minutes=30) == tw(2027, 1, 1, 23, 30)
    assert cal.add_calendar(tw(2026, 1, 9, 10)) == tw(2026, 1, 9, 10)


# --------------------------------------------------------------------------- DST


def test_dst_spring_forward_business_hours() -> None:
    cal = make_ny()
    # 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT.
    assert cal.add_business_minutes(ny(2026, 3, 6, 16), 120) == ny(2026, 3, 9, 10)
    assert cal.add_business_minutes(ny(2026, 3, 6, 16), 120) == utc(2026, 3, 9, 14)
    assert cal.business_minutes_between(ny(2026, 3, 6, 9), ny(2026, 3, 9, 17)) == 960
    assert cal.add_business_days(ny(2026, 3, 6, 16), 1) == utc(2026, 3, 9, 20)  # 16:00 EDT
    assert cal.next_open(ny(2026, 3, 7, 12)) == utc(2026, 3, 9, 13)


def test_dst_fall_back_business_hours() -> None:
    cal = make_ny()
    # 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST.
    assert cal.add_business_minutes(ny(2026, 10, 30, 16), 120) == utc(2026, 11, 2, 15)
    assert cal.add_business_days(ny(2026, 10, 30, 16), 1) == utc(2026, 11, 2, 21)


def test_dst_day_lengths_follow_the_wall_clock() -> None:
    cal = make_ny_allday()
    assert cal.business_minutes_between(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * 60
    assert cal.business_minutes_between(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * 60
    assert cal.add_business_minutes(ny(2026, 3, 7, 12), 1440) == ny(2026, 3, 8, 13)  # 24 elapsed hours
    assert cal.add_business_days(ny(2026, 3, 7, 12), 1) == ny(2026, 3, 8, 12)  # same wall time
    gap = BusinessCalendar({"timezone": "America/New_York", "weekly_hours": {"sun": "00:00-03:00"}})
    assert gap.business_minutes_between(ny(2026, 3, 8), ny(2026, 3, 9)) == 120  # 02:00-03:00 never happens
    assert gap.business_minutes_between(ny(2026, 11, 1), ny(2026, 11, 2)) == 240  # 01:00-02:00 twice


def test_24x7_mode() -> None:
    cal = make_ny_24x7()
    start = ny(2026, 3, 7, 12)
    assert cal.is_open(start)
    assert cal.next_open(start) == start
    # Python adds timedeltas to zoneinfo datetimes in wall time; elapsed time needs UTC.
    assert cal.add_business_minutes(start, 1440) == start.astimezone(UTC) + timedelta(days=1)
    assert cal.add_business_minutes(start, 1440) == ny(2026, 3, 8, 13)
    assert cal.add_business_minutes(start, 0) == start
    assert cal.business_minutes_between(start, ny(2026, 3, 9, 12)) == 2880 - 60
    assert cal.add_business_days(start, 1) == ny(2026, 3, 8, 12)  # 23 h: a calendar day
    assert cal.add_calendar(start, days=1) == ny(2026, 3, 8, 12)
    assert cal.add_business_days(ny(2026, 3, 7), 1) == ny(2026, 3, 8)
    taipei = default_calendars()["24x7"]
    assert taipei.add_business_minutes(tw(2026, 2, 17, 3), 15) == tw(2026, 2, 17, 3, 15)  # holidays ignored


# --------------------------------------------------------------------------- pauses


def bm(n: float) -> SlaDuration:
    return SlaDuration(n, "business_minutes")


def test_pauses_business_minutes(cal: BusinessCalendar) -> None:
    start = tw(2026, 1, 12, 9)
    assert cal.deadline_with_pauses(start, bm(120)) == tw(2026, 1, 12, 11)
    assert cal.deadline_with_pauses(start, bm(120), [(tw(2026, 1, 12, 10), tw(2026, 1, 12, 11))]) == tw(2026, 1, 12, 12)
    # Paused 10:00-14:00 eats 3 business hours (the lunch hour was closed anyway).
    assert cal.deadline_with_pauses(start, bm(120), [(tw(2026, 1, 12, 10), tw(2026, 1, 12, 14))]) == tw(2026, 1, 12, 15)
    # Overlapping pauses merge: 10:00-11:30 paused.
    overlapping = [
        (tw(2026, 1, 12, 10, 30), tw(2026, 1, 12, 11, 30)),
        (tw(2026, 1, 12, 10), tw(2026, 1, 12, 11)),
    ]
    assert cal.deadline_with_pauses(start, bm(120), overlapping) == tw(2026, 1, 12, 13, 30)
    # Pause spanning the start: the clock runs from 10:00.
    assert cal.deadline_with_pauses(start, bm(120), [(tw(2026, 1, 11), tw(2026, 1, 12, 10))]) == tw(2026, 1, 12, 12)
    # Pauses entirely before the start or after the deadline change nothing.
    before = [(tw(2026, 1, 5), tw(2026, 1, 6))]
    after = [(tw(2026, 1, 12, 11), None)]
    assert cal.deadline_with_pauses(start, bm(120), before + after) == tw(2026, 1, 12, 11)
    # Ticket pending on the customer since 10:00: the clock is stopped, no deadline.
    assert cal.deadline_with_pauses(start, bm(120), [(tw(2026, 1, 12, 10), None)]) is None
    # A pause that only covers closed time changes nothing.
    weekend = [(tw(2026, 1, 9, 18), tw(2026, 1, 12, 9))]
    assert cal.deadline_with_pauses(tw(2026, 1, 9, 17), bm(120), weekend) == tw(2026, 1, 12, 10)


def test_pauses_other_units(cal: BusinessCalendar) -> None:
    start = tw(2026, 1, 12, 10)
    calendar_60 = SlaDuration(60, "calendar_minutes")
    assert cal.deadline_with_pauses(start, calendar_60, [(tw(2026, 1, 12, 10, 20), tw(2026, 1, 12, 10, 50))]) == tw(
        2026, 1, 12, 11, 30
    )
    one_day = SlaDuration(1, "business_days")
    assert cal.deadline_with_pauses(tw(2026, 1, 12, 10, 15), one_day) == tw(2026, 1, 13, 10, 15)
    # 480 business minutes of budget; paused Mon 14:00-16:00 → Tuesday 13:15.
    paused = [(tw(2026, 1, 12, 14), tw(2026, 1, 12, 16))]
    assert cal.deadline_with_pauses(tw(2026, 1, 12, 10, 15), one_day, paused) == tw(2026, 1, 13, 13, 15)
    fifteen = SlaDuration(15, "calendar_days")
    assert cal.deadline_with_pauses(tw(2026, 1, 9, 10), fifteen) == tw(2026, 1, 24, 10)
    two_days = [(tw(2026, 1, 10, 10), tw(2026, 1, 12, 10))]
    assert cal.deadline_with_pauses(tw(2026, 1, 9, 10), fifteen, two_days) == tw(2026, 1, 26, 10)
    assert cal.target_minutes(tw(2026, 1, 9, 10), fifteen) == 15 * 1440
    assert cal.target_minutes(tw(2026, 1, 12, 10, 15), one_day) == 480
    assert cal.deadline(tw(2026, 1, 12, 10), SlaDuration(2, "business_days")) == tw(2026, 1, 14, 10)


def test_elapsed_minutes(cal: BusinessCalendar) -> None:
    start, end = tw(2026, 1, 12, 9), tw(2026, 1, 13, 9)
    assert cal.elapsed_minutes(start, end) == 480
    assert cal.elapsed_minutes(start, end, [(tw(2026, 1, 12, 10), tw(2026, 1, 12, 14))]) == 300
    assert cal.elapsed_minutes(start, end, [(tw(2026, 1, 12, 10), None)]) == 60
    assert cal.elapsed_minutes(start, end, business=False) == 1440
    assert cal.elapsed_minutes(end, start) == 0


# --------------------------------------------------------------------------- consistency & speed


def _random_instant(rng: random.Random) -> datetime:
    lo = datetime(2025, 6, 1, tzinfo=UTC)
    span_us = int(timedelta(days=730) / timedelta(microseconds=1))
    return lo + timedelta(microseconds=rng.randrange(span_us))


ALL_CALENDARS = (make_tw, make_tw_2025, make_cn, make_ny, make_ny_allday, make_ny_24x7)


@pytest.mark.parametrize("factory", ALL_CALENDARS)
def test_randomized_round_trip(factory: Callable[[], BusinessCalendar]) -> None:
    cal = factory()
    rng = random.Random(f"round-trip-{cal.name}")
    for _ in range(400):
        start = _random_instant(rng)
        minutes = rng.choice([rng.randrange(0, 600), rng.randrange(0, 20_000), rng.randrange(0, 200_000)])
        end = cal.add_business_minutes(start, minutes)
        assert cal.business_minutes_between(start, end) == minutes
        if minutes:
            assert end > start
            assert cal.is_open(end - timedelta(microseconds=1))  # earliest: the last instant was open
        fractional = rng.random() * 5000
        end = cal.add_business_minutes(start, fractional)
        assert cal.business_minutes_between(start, end) == pytest.approx(fractional, abs=1e-6)


@pytest.mark.parametrize("factory", ALL_CALENDARS)
def test_week_skipping_matches_day_by_day(factory: Callable[[], BusinessCalendar]) -> None:
    fast, slow = factory(), factory()
    slow._week_skip = False
    rng = random.Random(f"skip-{fast.name}")
    for _ in range(150):
        start = _random_instant(rng)
        end = _random_instant(rng)
        minutes = rng.randrange(0, 300_000)
        days = rng.randrange(0, 400)
        assert fast.add_business_minutes(start, minutes) == slow.add_business_minutes(start, minutes)
        assert fast.add_business_days(start, days) == slow.add_business_days(start, days)
        assert fast.business_minutes_between(start, end) == slow.business_minutes_between(start, end)


@pytest.mark.parametrize("factory", [make_tw_2025, make_ny, make_cn])
def test_add_business_minutes_matches_minute_stepping(factory: Callable[[], BusinessCalendar]) -> None:
    cal = factory()
    rng = random.Random(f"brute-{cal.name}")
    for _ in range(15):
        start = _random_instant(rng).replace(second=0, microsecond=0)
        minutes = rng.randrange(1, 1500)
        t, counted = start, 0
        while counted < minutes:  # reference: step one minute at a time
            if cal.is_open(t):
                counted += 1
            t += timedelta(minutes=1)
        assert cal.add_business_minutes(start, minutes) == t


@pytest.mark.parametrize("factory", ALL_CALENDARS)
def test_randomized_pause_consistency(factory: Callable[[], BusinessCalendar]) -> None:
    cal = factory()
    rng = random.Random(f"pauses-{cal.name}")
    for _ in range(150):
        start = _random_instant(rng)
        pauses: list[tuple[datetime, datetime | None]] = []
        for _ in range(rng.randrange(0, 4)):
            p_start = start + timedelta(minutes=rng.randrange(-2000, 20_000))
            pauses.append((p_start, p_start + timedelta(minutes=rng.randrange(0, 5000))))
        minutes = rng.randrange(0, 10_000)
        due = cal.deadline_with_pauses(start, bm(minutes), pauses)
        assert due is not None
        assert cal.elapsed_minutes(start, due, pauses) == minutes
        wall = cal.deadline_with_pauses(start, SlaDuration(minutes, "calendar_minutes"), pauses)
        assert wall is not None
        assert cal.elapsed_minutes(start, wall, pauses, business=False) == minutes


def test_long_spans_skip_weeks_instead_of_days() -> None:
    cal = make_ny()  # no holidays: only DST dates fall back to day-by-day stepping
    ten_years = 480 * 5 * 52 * 10
    due = cal.add_business_minutes(ny(2026, 1, 5, 9), ten_years)
    assert cal.business_minutes_between(ny(2026, 1, 5, 9), due) == ten_years
    assert len(cal._day_cache) < 300  # ~3650 days were spanned
    assert cal.add_business_days(ny(2026, 1, 5, 10), 2600) == ny(2035, 12, 24, 10)


def test_json_dump_of_bundled_data_is_plain() -> None:
    data = json.loads(load_holiday_set("tw_2026").model_dump_json())
    assert data["holidays"]["2026-02-16"] == "農曆除夕"
