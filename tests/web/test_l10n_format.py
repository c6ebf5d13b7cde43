"""Dates, times and numbers per locale (CLDR via Babel) in the brand's timezone, and the Jinja filters over them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment

from kefu.core.l10n import format_datetime, format_day, format_number, format_ratio
from kefu.tickets.listing import LocalTime
from kefu.web import formatting

AT = datetime(2026, 12, 6, 6, 51, tzinfo=UTC)  # 14:51 in Taipei and Shanghai, 06:51 in London


def _spaces(text: str) -> str:
    """CLDR joins with thin (zh-Hant) and narrow no-break (en, before AM/PM) spaces; compare them as spaces."""
    return text.replace("\u2009", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("locale", "style", "expected"),
    [
        ("zh-TW", "datetime", "2026/12/6 下午2:51"),
        ("zh-CN", "datetime", "2026/12/6 14:51"),
        ("en", "datetime", "Dec 6, 2026, 2:51 PM"),
        ("zh-TW", "short", "2026/12/6 下午2:51"),
        ("zh-CN", "short", "2026/12/6 14:51"),
        ("en", "short", "Dec 6, 2026, 2:51 PM"),
        ("zh-TW", "long", "2026年12月6日 下午2:51"),
        ("zh-CN", "long", "2026年12月6日 14:51"),
        ("en", "long", "Dec 6, 2026, 2:51 PM"),
        ("zh-TW", "date", "2026/12/6"),
        ("zh-CN", "date", "2026/12/6"),
        ("en", "date", "Dec 6, 2026"),
        ("zh-TW", "time", "下午2:51"),
        ("zh-CN", "time", "14:51"),
        ("en", "time", "2:51 PM"),
    ],
)
def test_datetime_styles_per_locale(locale: str, style: str, expected: str) -> None:
    got = format_datetime(AT, locale, "Asia/Taipei", style)  # type: ignore[arg-type]
    assert _spaces(got) == expected


def test_brand_timezone_moves_the_day() -> None:
    """The same instant is a different local day in another brand's zone; naive values are UTC."""
    late = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)
    assert format_datetime(late, "zh-CN", "Asia/Shanghai", "date") == "2026/12/7"
    assert format_datetime(late, "en", ZoneInfo("Europe/London"), "date") == "Dec 6, 2026"
    assert format_datetime(late.replace(tzinfo=None), "zh-CN", "Asia/Shanghai", "date") == "2026/12/7"
    assert format_datetime(None, "en") == ""
    with pytest.raises(ValueError):
        format_datetime(AT, "en", None, "fancy")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "number", "one_decimal", "percent", "day"),
    [
        ("zh-TW", "1,234,567", "1,234.5", "85.3%", "2026/12/25"),
        ("zh-CN", "1,234,567", "1,234.5", "85.3%", "2026/12/25"),
        ("en", "1,234,567", "1,234.5", "85.3%", "Dec 25, 2026"),
    ],
)
def test_numbers_and_days_per_locale(locale: str, number: str, one_decimal: str, percent: str, day: str) -> None:
    assert format_number(1234567, locale) == number
    assert format_number(1234.46, locale, 1) == one_decimal
    assert format_ratio(0.8531, locale, 1) == percent
    assert format_day(date(2026, 12, 25), locale) == day
    assert format_number(None, locale) == "" and format_ratio(None, locale) == ""


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh-TW", "2026/12/6 下午2:51|2026/12/6 下午2:51|2026/12/6|1,234.5|85%"),
        ("zh-CN", "2026/12/6 14:51|2026/12/6 14:51|2026/12/6|1,234.5|85%"),
        ("en", "Dec 6, 2026, 2:51 PM|Dec 6, 2026, 7:51 AM|Dec 6, 2026|1,234.5|85%"),
    ],
)
def test_template_filters(locale: str, expected: str) -> None:
    """Brand ids resolve through the page's LocalTime map; names and the page's tz work too."""
    env = Environment(autoescape=True)
    env.filters.update(formatting.filters())
    tpl = env.from_string(
        "{{ at|datetime(7, 'short') }}|{{ at|datetime('Europe/Paris') if locale == 'en' else at|datetime }}"
        "|{{ at|date(7) }}|{{ n|number(1) }}|{{ r|percent }}"
    )
    local = LocalTime({7: ZoneInfo("Asia/Shanghai")})
    out = tpl.render(at=AT, n=1234.5, r=0.85, locale=locale, local=local, tz="Asia/Taipei")
    assert _spaces(out) == expected


@pytest.mark.parametrize(("locale", "expected"), [("zh-CN", "2026/12/7 00:00"), ("en", "Dec 7, 2026, 12:00 AM")])
def test_local_stamp_is_written_per_locale(locale: str, expected: str) -> None:
    """Wall-clock stamps of a zone (shift coverage gaps) are formatted like any time, never shown as ISO text."""
    env = Environment(autoescape=True)
    env.filters.update(formatting.filters())
    out = env.from_string("{{ s|local_stamp('Asia/Taipei') }}").render(s="2026-12-07 00:00", locale=locale)
    assert _spaces(out) == expected


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_one_date_style_per_locale_across_console_styles(locale: str) -> None:
    """A case's "created" (datetime), its activity list (short) and a day column (date) write the date alike: the
    walk found "Created 11/12/2026" beside "Dec 8" on one page."""
    days = {
        _spaces(format_datetime(AT, locale, "Asia/Taipei", s))
        .removesuffix(_spaces(format_datetime(AT, locale, "Asia/Taipei", "time")))
        .rstrip(", ")
        for s in ("datetime", "short", "date")
    }
    assert days == {"Dec 6, 2026" if locale == "en" else "2026/12/6"}
    assert format_day(AT.date(), locale) in days
    # Chart axes leave the year out in the same style (the analytics daily-volume chart wrote %m/%d).
    assert format_day(AT.date(), locale, year=False) == ("Dec 6" if locale == "en" else "12/6")
