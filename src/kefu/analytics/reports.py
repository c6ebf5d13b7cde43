"""Weekly service report and monthly white paper: one data model rendered as HTML, CSV and PDF."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.units import format_unit
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.analytics import service
from kefu.analytics.metrics import METRICS, RESOLUTION_BUCKETS, localize
from kefu.analytics.service import Filters
from kefu.brands.models import Brand
from kefu.core.catalog import gettext
from kefu.core.db import utcnow
from kefu.core.l10n import cldr_locale, format_day, format_number, format_ratio, format_zone
from kefu.privacy.pdf import render_pdf
from kefu.security import csvsafe
from kefu.tickets.taxonomy import category_label

KINDS = ("weekly", "monthly")
BUCKET_LABELS = {
    "lt_1h": ("< 1 小時", "< 1 h"),
    "1h_4h": ("1–4 小時", "1–4 h"),
    "4h_24h": ("4–24 小時", "4–24 h"),
    "1d_3d": ("1–3 天", "1–3 d"),
    "3d_7d": ("3–7 天", "3–7 d"),
    "gt_7d": ("> 7 天", "> 7 d"),
}


def _zh(locale: str) -> bool:
    return locale != "en"


def _label(prefix: str, key: str, locale: str) -> str:
    """A channel or SLA target kind as readers call it (a key without a catalog entry is shown as it is)."""
    text = gettext(prefix + key, locale)
    return key if text == prefix + key else text


def fmt(value: Any, unit: str, locale: str = "zh-TW") -> str:
    """Human formatting of a metric value, per locale (CLDR via Babel: 1.5 小時 · 1.5小时 · 1.5 hr, 1,234)."""
    if value is None:
        return "—"
    if unit == "percent":
        return format_ratio(float(value), locale, 1)
    if unit == "seconds":
        v = float(value)
        amount, cldr_unit = (
            (v / 86400, "duration-day")
            if v >= 86400
            else (v / 3600, "duration-hour")
            if v >= 3600
            else (v / 60, "duration-minute")
        )
        return format_unit(amount, cldr_unit, length="short", format="#,##0.0", locale=cldr_locale(locale))
    if unit == "score":
        return format_number(float(value), locale, 2)
    return format_number(int(value), locale)


@dataclass
class Kpi:
    """One headline number."""

    key: str
    label: str
    value: str
    raw: float | None
    previous: str | None = None
    note: str = ""


@dataclass
class Table:
    """A titled table."""

    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Report:
    """A rendered-agnostic report."""

    kind: str
    title: str
    locale: str
    start: datetime
    end: datetime
    brands: list[str]
    generated_at: datetime
    kpis: list[Kpi] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    tz: str = "Asia/Taipei"

    @property
    def period_label(self) -> str:
        """Inclusive dates of the period in the brand's timezone."""
        zone = ZoneInfo(self.tz)
        first = self.start.astimezone(zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        return f"{first.isoformat()} – {last.isoformat()}"

    def period_in(self, locale: str) -> str:
        """The period's inclusive dates written for the reader (the ISO `period_label` stays for CSV and files)."""
        zone = ZoneInfo(self.tz)
        first = self.start.astimezone(zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        return f"{format_day(first, locale)} – {format_day(last, locale)}"


def period_for(kind: str, now: datetime, tz: str = "Asia/Taipei") -> tuple[datetime, datetime]:
    """Last full local week (Mon–Sun) or last full calendar month, as UTC datetimes."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    if kind == "weekly":
        monday = today - timedelta(days=today.weekday())
        start_d, end_d = monday - timedelta(days=7), monday
    else:
        first = today.replace(day=1)
        start_d, end_d = (first - timedelta(days=1)).replace(day=1), first
    return _local(start_d, zone), _local(end_d, zone)


def _local(d: date, zone: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC)


def _kpis(d: dict[str, Any], locale: str) -> list[tuple[str, str, Any, str]]:
    zh = _zh(locale)
    return [
        ("volume_by_channel", "工單量" if zh else "Tickets", d["volume_by_channel"]["total"], "count"),
        (
            "first_response_time",
            METRICS["first_response_time"].label(locale) + ("（平均）" if zh else " (avg)"),
            d["first_response_time"]["avg"],
            "seconds",
        ),
        (
            "first_response_time",
            METRICS["first_response_time"].label(locale) + " (P90)",
            d["first_response_time"]["p90"],
            "seconds",
        ),
        (
            "resolution_time",
            ("平均解決時間" if zh else "Average resolution time"),
            d["resolution_time"]["avg"],
            "seconds",
        ),
        ("fcr", METRICS["fcr"].label(locale), d["fcr"]["rate"], "percent"),
        ("sla_compliance", METRICS["sla_compliance"].label(locale), d["sla_compliance"]["rate"], "percent"),
        ("csat", METRICS["csat"].label(locale), d["csat"]["average"], "score"),
        ("csat", "CSAT 回覆率" if zh else "CSAT response rate", d["csat"]["response_rate"], "percent"),
        ("bot_containment", METRICS["bot_containment"].label(locale), d["bot_containment"]["rate"], "percent"),
        ("complaint_rate", METRICS["complaint_rate"].label(locale), d["complaints"]["rate"], "percent"),
        (
            "complaint_closure_24h",
            METRICS["complaint_closure_24h"].label(locale),
            d["complaints"]["closure_24h_rate"],
            "percent",
        ),
        ("regulator_on_time", METRICS["regulator_on_time"].label(locale), d["regulator_on_time"]["rate"], "percent"),
        ("qa_correctness", METRICS["qa_correctness"].label(locale), d["qa_correctness"]["rate"], "percent"),
        ("backlog", METRICS["backlog"].label(locale), d["backlog"]["total"], "count"),
    ]


def issue_label(row: dict[str, Any], locale: str) -> str:
    """A top-issues row's category in the reader's locale (seed categories from the catalog, kefu.core.seedtext)."""
    if row["category"] is None:
        return localize(row["label_en"] if locale == "en" else row["label_zh"], locale)
    return category_label(str(row["category"]), row["label_zh"], row["label_en"], locale)


def bucket_label(key: str, locale: str) -> str:
    """A resolution-time bucket ("1–4 小時", "1–4 小时", "1–4 h")."""
    return BUCKET_LABELS[key][1] if locale == "en" else localize(BUCKET_LABELS[key][0], locale)


def build(session: Session, f: Filters, kind: str, locale: str = "zh-TW", *, compare: bool | None = None) -> Report:
    """Compute a report for the filters; the monthly white paper also compares with the previous period."""
    if kind not in KINDS:
        raise ValueError(kind)
    zh = _zh(locale)
    d = service.dashboard(session, f)
    brands = list(session.scalars(select(Brand).where(Brand.id.in_(f.brand_ids)).order_by(Brand.id)))
    names = [b.name for b in brands]
    title = (
        ("每週客服服務報告" if kind == "weekly" else "客服月度白皮書")
        if zh
        else ("Weekly service report" if kind == "weekly" else "Monthly customer-service white paper")
    )
    rep = Report(
        kind, title, locale, f.start, f.end, names, utcnow(), data=d, tz=brands[0].timezone if brands else "Asia/Taipei"
    )
    prev_kpis: list[tuple[str, str, Any, str]] | None = None
    if compare if compare is not None else kind == "monthly":
        span = f.end - f.start
        prev = Filters(f.start - span, f.start, f.brand_ids, f.organization_id, f.now)
        prev_kpis = _kpis(service.dashboard(session, prev), locale)
    for i, (key, label, value, unit) in enumerate(_kpis(d, locale)):
        previous = fmt(prev_kpis[i][2], unit, locale) if prev_kpis else None
        rep.kpis.append(Kpi(key, label, fmt(value, unit, locale), value, previous))
    channel_h = ["管道" if zh else "Channel", "工單數" if zh else "Tickets", "佔比" if zh else "Share"]
    total = d["volume_by_channel"]["total"] or 1
    rep.tables.append(
        Table(
            METRICS["volume_by_channel"].label(locale),
            channel_h,
            [
                [_label("ch_", ch, locale), str(n), fmt(n / total, "percent")]
                for ch, n in d["volume_by_channel"]["by_channel"].items()
            ],
        )
    )
    rep.tables.append(
        Table(
            METRICS["resolution_time"].label(locale),
            ["區間" if zh else "Bucket", "工單數" if zh else "Tickets"],
            [[bucket_label(k, locale), str(d["resolution_time"]["buckets"][k])] for k, _ in RESOLUTION_BUCKETS],
        )
    )
    rep.tables.append(
        Table(
            METRICS["top_issues"].label(locale),
            ["#", "類別" if zh else "Category", "工單數" if zh else "Tickets"],
            [[str(i), issue_label(r, locale), str(r["count"])] for i, r in enumerate(d["top_issues"], 1)],
        )
    )
    rep.tables.append(
        Table(
            METRICS["agent_performance"].label(locale),
            [
                "客服" if zh else "Agent",
                "處理量" if zh else "Handled",
                "首次回應" if zh else "First response",
                "解決時間" if zh else "Resolution",
                "CSAT",
            ],
            [
                [
                    r["name"],
                    str(r["handled"]),
                    fmt(r["avg_frt"], "seconds", locale),
                    fmt(r["avg_resolution"], "seconds", locale),
                    f"{format_number(r['csat'], locale, 2)} ({r['csat_count']})" if r["csat"] is not None else "—",
                ]
                for r in d["agent_performance"]
            ],
        )
    )
    rep.tables.append(_follow_through(session, f, zh, locale))
    if kind == "monthly":
        sla = d["sla_compliance"]["by_kind"]
        rep.tables.append(
            Table(
                METRICS["sla_compliance"].label(locale),
                [
                    "目標" if zh else "Target",
                    "已判定" if zh else "Decided",
                    "達成" if zh else "Met",
                    "達成率" if zh else "Rate",
                ],
                [
                    [_label("tk_", k, locale), str(v["decided"]), str(v["met"]), fmt(v["rate"], "percent")]
                    for k, v in sla.items()
                ],
            )
        )
        dist = d["csat"]["distribution"]
        rep.tables.append(
            Table(
                "CSAT 分布" if zh else "CSAT distribution",
                ["星等" if zh else "Stars", "份數" if zh else "Responses"],
                [[f"{k} ★", str(dist[k])] for k in ("5", "4", "3", "2", "1")],
            )
        )
        rep.definitions = [(m.label(locale), m.definition(locale)) for m in METRICS.values()]
    if locale == "zh-CN":
        rep.title = localize(rep.title, locale)
        for k in rep.kpis:
            k.label = localize(k.label, locale)
        for t in rep.tables:
            t.title, t.headers = localize(t.title, locale), [localize(h, locale) for h in t.headers]
            t.rows = [[localize(c, locale) for c in r] for r in t.rows]
    return rep


def _follow_through(session: Session, f: Filters, zh: bool, locale: str) -> Table:
    """Progress updates, follow-up visits and call-backs of the period (seed 003: 進度同步, 回訪, 預約回電)."""
    from kefu.callbacks.service import stats as callback_stats
    from kefu.followups.service import stats as follow_up_stats
    from kefu.sla.updates import stats as lapse_stats

    lapses = cases = late_sum = 0
    planned = done = reached_cases = fu_cases = fu_on_time = 0
    booked = cb_on_time = cb_late = cb_missed = 0
    for bid in f.brand_ids:
        lp = lapse_stats(session, bid, None, start=f.start, end=f.end, now=f.at)
        lapses, cases = lapses + lp.lapses, cases + lp.cases
        late_sum += int((lp.avg_minutes_late or 0) * lp.lapses)
        fu = follow_up_stats(session, bid, None, start=f.start, end=f.end, now=f.at)
        planned, done, fu_on_time = planned + fu.planned, done + fu.done, fu_on_time + fu.on_time
        fu_cases, reached_cases = fu_cases + fu.cases, reached_cases + fu.cases_reached
        cb = callback_stats(session, bid, None, start=f.start, end=f.end)
        booked, cb_on_time, cb_late, cb_missed = (
            booked + cb.booked,
            cb_on_time + cb.on_time,
            cb_late + cb.late,
            cb_missed + cb.missed_open,
        )

    def rate(n: int, d: int) -> str:
        return fmt(n / d, "percent", locale) if d else "—"

    rows = [
        [
            "進度更新逾時（次／案件）" if zh else "Progress updates missed (times / cases)",
            f"{lapses} / {cases}",
            (f"平均晚 {late_sum / lapses:.0f} 分鐘" if zh else f"avg {late_sum / lapses:.0f} min late")
            if lapses
            else "—",
        ],
        [
            "回訪（完成／應完成）" if zh else "Follow-ups (done / planned)",
            f"{done} / {planned}",
            (
                f"聯絡上 {rate(reached_cases, fu_cases)}，準時 {rate(fu_on_time, done)}"
                if zh
                else f"reached {rate(reached_cases, fu_cases)}, on time {rate(fu_on_time, done)}"
            ),
        ],
        [
            "預約回電（準時／預約）" if zh else "Call-backs (on time / booked)",
            f"{cb_on_time} / {booked}",
            (f"逾時未撥 {cb_missed}，延遲 {cb_late}" if zh else f"missed {cb_missed}, late {cb_late}"),
        ],
    ]
    return Table(
        "服務閉環追蹤" if zh else "Follow-through",
        ["項目" if zh else "Item", "數量" if zh else "Count", "說明" if zh else "Detail"],
        rows,
    )


def to_csv(rep: Report) -> str:
    """Sections as rows: section, label, value[, previous]; tables follow their headers."""
    buf = io.StringIO()
    w = csvsafe.writer(buf)  # neutralizes formula cells (agent names, categories are user-controlled)
    w.writerow([rep.title, rep.period_label, " / ".join(rep.brands)])
    w.writerow(["kpi", "label", "value", "previous"])
    for k in rep.kpis:
        w.writerow([k.key, k.label, k.value, k.previous or ""])
    for t in rep.tables:
        w.writerow([])
        w.writerow([t.title])
        w.writerow(t.headers)
        w.writerows(t.rows)
    if rep.definitions:
        w.writerow([])
        for label, text in rep.definitions:
            w.writerow([label, text])
    # BOM so spreadsheet apps detect UTF-8 and show Chinese correctly.
    return "\ufeff" + buf.getvalue()


def to_pdf(rep: Report) -> bytes:
    """PDF with the standard CJK CID fonts (nothing embedded), via kefu.privacy.pdf."""
    zh = _zh(rep.locale)
    cn = rep.locale == "zh-CN"
    lines = [
        f"{'期間' if zh else 'Period'}: {rep.period_label}",
        f"{'品牌' if zh else 'Brands'}: {', '.join(rep.brands)}",
        f"{'產生時間' if zh else 'Generated'}: "
        f"{rep.generated_at.astimezone(ZoneInfo(rep.tz)):%Y-%m-%d %H:%M} ({format_zone(rep.tz, rep.locale)})",
        "",
        "【" + ("關鍵指標" if zh else "Key figures") + "】",
    ]
    for k in rep.kpis:
        prev = f"  ({'上期' if zh else 'previous'} {k.previous})" if k.previous else ""
        lines.append(f"  {k.label}: {k.value}{prev}")
    for t in rep.tables:
        lines += ["", "【" + t.title + "】", "  " + " | ".join(t.headers)]
        lines += ["  " + " | ".join(r) for r in t.rows] or ["  —"]
    if rep.definitions:
        lines += ["", "【" + ("指標定義" if zh else "Definitions") + "】"]
        for label, text in rep.definitions:
            lines += [f"  {label}: {text}"]
    if cn:
        lines = [localize(line, "zh-CN") for line in lines]
    return render_pdf(rep.title, lines, locale=rep.locale)
