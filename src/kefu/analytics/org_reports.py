"""Periodic operations report for a B2B organization (法人客戶營運成效報表), e-mailed to the client's contacts.

The figures come from the dashboard's own metric functions (kefu.analytics.service) with the organization filter,
so the report and the dashboard never disagree. Counts and rates only: no customer's name, address or message.
One `org_reports` row per organization and period, inserted in the transaction that queues the e-mails, makes a
rerun (or a crash before the commit) send nothing twice.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.analytics import report_mail, service
from kefu.analytics.models import ORG_REPORT_LOCALES, ORG_REPORT_PERIODS, OrgReport, OrgReportSettings
from kefu.analytics.reports import fmt, issue_label
from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.access import scope_to_brands
from kefu.core.addresses import is_email
from kefu.core.catalog import gettext
from kefu.core.commands import ensure
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.l10n import format_datetime, format_day, format_number, format_ratio
from kefu.customers.models import Organization
from kefu.privacy.pdf import render_pdf
from kefu.security import csvsafe

MAX_RECIPIENTS = 20
# Version of the stored `org_reports.data`: a past report renders only from a layout this code knows.
FORMAT = 1
# A period is reported this long after it ends, so late replies and surveys of its last hours are counted.
SETTLE = timedelta(hours=2)
_MONTH_KEY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER_KEY = re.compile(r"^(\d{4})-Q([1-4])$")

# (figure, unit): the rows of the report, in order.
ROWS: tuple[tuple[str, str], ...] = (
    ("opened", "count"),
    ("resolved", "count"),
    ("sla_first_response", "percent"),
    ("sla_resolution", "percent"),
    ("frt_median", "seconds"),
    ("resolution_median", "seconds"),
    ("csat_average", "score"),
    ("csat_responses", "count"),
    ("fcr_rate", "percent"),
)


class ReportSettingsIn(BaseModel):
    """An organization's report settings: on/off, monthly or quarterly, language and the client's contacts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    period: Literal["monthly", "quarterly"] = "monthly"
    locale: Literal["zh-TW", "zh-CN", "en"] = "zh-TW"
    recipients: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            address = raw.strip().lower()
            if not address:
                continue
            if not is_email(address):
                raise ValueError(f"not an e-mail address: {raw!r}")
            if address not in out:
                out.append(address)
        return out


def parse_recipients(text: str) -> list[str]:
    """Addresses typed one per line or separated by commas/semicolons (the console's textarea)."""
    return [a for a in re.split(r"[\s,;]+", text) if a]


# --------------------------------------------------------------------------- periods


def period_bounds(period_key: str) -> tuple[str, date, date]:
    """(period, first local day, day after the last) of `2026-11` (monthly) or `2026-Q4` (quarterly)."""
    if m := _MONTH_KEY.match(period_key):
        y, mo = int(m.group(1)), int(m.group(2))
        first = date(y, mo, 1)
        nxt = date(y + (mo == 12), mo % 12 + 1, 1)
        return "monthly", first, nxt
    if q := _QUARTER_KEY.match(period_key):
        y, qn = int(q.group(1)), int(q.group(2))
        first = date(y, 3 * qn - 2, 1)
        nxt = date(y + (qn == 4), (3 * qn) % 12 + 1, 1)
        return "quarterly", first, nxt
    raise InvalidInput.said("err_analytics_bad_period", period=period_key)


def _key(period: str, d: date) -> str:
    return f"{d.year}-{d.month:02d}" if period == "monthly" else f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def last_full_period(period: str, now: datetime, tz: str) -> str:
    """The key of the last period that ended (in the brand's timezone) at least SETTLE before `now`."""
    today = (now - SETTLE).astimezone(ZoneInfo(tz)).date()
    first = today.replace(day=1) if period == "monthly" else date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return _key(period, first - timedelta(days=1))


def previous_key(period_key: str) -> str:
    """The period just before `period_key` (for the comparison column)."""
    period, first, _ = period_bounds(period_key)
    return _key(period, first - timedelta(days=1))


def _zone(brand: Brand | None) -> str:
    """The brand's timezone (reports count local days)."""
    return (brand.timezone if brand else None) or "Asia/Taipei"


def _utc(d: date, tz: str) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# --------------------------------------------------------------------------- settings


def get_settings(session: Session, org: Organization) -> OrgReportSettings | None:
    """The organization's report settings (None: never configured, i.e. off)."""
    return session.get(OrgReportSettings, org.id)


def save_settings(
    session: Session, org: Organization, actor: Principal | None, command: ReportSettingsIn | dict[str, Any]
) -> OrgReportSettings:
    """Create or replace the settings; enabling without a recipient is refused (nothing could be sent)."""
    cmd = ensure(ReportSettingsIn, command)
    if cmd.enabled and not cmd.recipients:
        raise InvalidInput.said("err_analytics_needs_recipient")
    row = session.get(OrgReportSettings, org.id)
    if row is None:
        row = OrgReportSettings(organization_id=org.id, brand_id=org.brand_id)
        session.add(row)
    row.enabled, row.period, row.locale, row.recipients = cmd.enabled, cmd.period, cmd.locale, list(cmd.recipients)
    row.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "organization.report_settings",
        target_type="organization",
        target_id=org.id,
        brand_id=org.brand_id,
        details={"enabled": cmd.enabled, "period": cmd.period, "locale": cmd.locale, "recipients": len(cmd.recipients)},
    )
    return row


# --------------------------------------------------------------------------- figures


def figures(session: Session, f: service.Filters) -> dict[str, Any]:
    """The report's numbers for one filter: the dashboard's metric functions, nothing computed a second way."""
    volume = service.volume_by_channel(session, f)
    frt = service.first_response(session, f)
    res = service.resolution(session, f)
    sla = service.sla_compliance(session, f)
    csat = service.csat(session, f)
    fcr = service.fcr(session, f)
    top = service.top_issues(session, f, limit=5)
    kinds = sla["by_kind"]
    return {
        "opened": volume["total"],
        "resolved": res["count"],
        "sla_first_response": kinds.get("first_response", {}).get("rate"),
        "sla_resolution": kinds.get("resolution", {}).get("rate"),
        "sla_overall": sla["rate"],
        "frt_median": frt["p50"],
        "resolution_median": res["p50"],
        "csat_average": csat["average"],
        "csat_responses": csat["answered"],
        "fcr_rate": fcr["rate"],
        "top_categories": top,
    }


def compute(session: Session, org: Organization, period_key: str, now: datetime | None = None) -> dict[str, Any]:
    """The stored content of a report: this period's and the previous period's figures, in the brand's timezone."""
    brand = session.get(Brand, org.brand_id)
    tz = _zone(brand)
    now = now or utcnow()
    _, first, nxt = period_bounds(period_key)
    prev_key = previous_key(period_key)
    _, p_first, p_nxt = period_bounds(prev_key)
    cur = service.Filters(_utc(first, tz), _utc(nxt, tz), (org.brand_id,), org.id, now)
    prev = service.Filters(_utc(p_first, tz), _utc(p_nxt, tz), (org.brand_id,), org.id, now)
    return {
        "format": FORMAT,
        "organization": org.name,
        "brand": brand.name if brand else "",
        "tz": tz,
        "period_key": period_key,
        "first_day": first.isoformat(),
        "last_day": (nxt - timedelta(days=1)).isoformat(),
        "previous_key": prev_key,
        "generated_at": now.isoformat(),
        "current": figures(session, cur),
        "previous": figures(session, prev),
    }


# --------------------------------------------------------------------------- rendering


def _t(key: str, locale: str) -> str:
    return gettext("orgrep_" + key, locale)


def _change(cur: Any, prev: Any, unit: str, locale: str) -> str:
    """Signed difference from the previous period (percentage points for rates)."""
    if cur is None or prev is None:
        return "—"
    diff = float(cur) - float(prev)
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    if unit == "percent":
        return f"{sign}{format_number(abs(diff) * 100, locale, 1)} {_t('pp', locale)}"
    if unit == "seconds":
        return f"{sign}{fmt(abs(diff), 'seconds', locale)}" if diff else "±0"
    if unit == "score":
        return f"{sign}{format_number(abs(diff), locale, 2)}"
    return f"{sign}{format_number(abs(int(diff)), locale)}"


def rows(data: dict[str, Any], locale: str) -> list[tuple[str, str, str, str]]:
    """(label, this period, previous period, change) per figure, formatted for the locale."""
    cur, prev = data["current"], data["previous"]
    return [
        (
            _t("row_" + key, locale),
            fmt(cur[key], unit, locale),
            fmt(prev[key], unit, locale),
            _change(cur[key], prev[key], unit, locale),
        )
        for key, unit in ROWS
    ]


def categories(data: dict[str, Any], locale: str) -> list[tuple[str, str, str]]:
    """The top categories: (label, tickets, share of the period's opened tickets)."""
    opened = data["current"]["opened"] or 0
    return [
        (
            issue_label(c, locale),
            format_number(int(c["count"]), locale),
            format_ratio(c["count"] / opened, locale, 1) if opened else "—",
        )
        for c in data["current"]["top_categories"]
    ]


def title(data: dict[str, Any], locale: str) -> str:
    """`<organization> operations report 2026-11` in the report's language."""
    return _t("title", locale).format(org=data["organization"], period=data["period_key"])


def period_label(data: dict[str, Any], locale: str) -> str:
    """Inclusive local dates of the period, as the reader writes dates."""
    first, last = date.fromisoformat(data["first_day"]), date.fromisoformat(data["last_day"])
    return f"{format_day(first, locale)} – {format_day(last, locale)}"


def _context(data: dict[str, Any], locale: str) -> dict[str, Any]:
    t = {k: _t(k, locale) for k in ("intro", "figure", "this", "previous", "change", "top", "category", "tickets")}
    t |= {k: _t(k, locale) for k in ("share", "none", "notes", "note_sla", "note_times", "note_privacy", "footer")}
    generated = datetime.fromisoformat(data["generated_at"])
    return {
        "t": t,
        "title": title(data, locale),
        "period": period_label(data, locale),
        "brand": data["brand"],
        "generated": format_datetime(generated, locale, data["tz"]),
        "rows": rows(data, locale),
        "categories": categories(data, locale),
    }


_HTML = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body style="font-family:sans-serif;color:#222">
<h1 style="font-size:20px">{{ title }}</h1>
<p>{{ t.intro.format(period=period, brand=brand) }}</p>
<table style="border-collapse:collapse" cellpadding="6" border="1">
<thead><tr><th scope="col">{{ t.figure }}</th><th scope="col">{{ t.this }}</th><th scope="col">{{ t.previous }}</th>
<th scope="col">{{ t.change }}</th></tr></thead>
<tbody>{% for label, cur, prev, change in rows %}<tr><th scope="row" style="text-align:left">{{ label }}</th>
<td>{{ cur }}</td><td>{{ prev }}</td><td>{{ change }}</td></tr>{% endfor %}</tbody></table>
<h2 style="font-size:16px">{{ t.top }}</h2>
{% if categories %}<table style="border-collapse:collapse" cellpadding="6" border="1">
<thead><tr><th scope="col">{{ t.category }}</th><th scope="col">{{ t.tickets }}</th><th scope="col">{{ t.share }}</th>
</tr></thead><tbody>{% for label, n, share in categories %}<tr><td>{{ label }}</td><td>{{ n }}</td><td>{{ share }}</td>
</tr>{% endfor %}</tbody></table>{% else %}<p>{{ t.none }}</p>{% endif %}
<h2 style="font-size:16px">{{ t.notes }}</h2>
<ul><li>{{ t.note_sla }}</li><li>{{ t.note_times }}</li><li>{{ t.note_privacy }}</li></ul>
<p style="color:#666;font-size:12px">{{ t.footer.format(generated=generated) }}</p>
</body></html>"""
)


def to_html(data: dict[str, Any], locale: str) -> str:
    """The e-mail's HTML part (inline styles only: mail clients drop style sheets)."""
    return _HTML.render(lang=locale, **_context(data, locale))


def to_text(data: dict[str, Any], locale: str) -> str:
    """The e-mail's plain-text part (also what screen readers and text-only clients show)."""
    c = _context(data, locale)
    t = c["t"]
    lines = [c["title"], "", t["intro"].format(period=c["period"], brand=c["brand"]), ""]
    lines += [f"{label}: {cur}  ({t['previous']} {prev}, {change})" for label, cur, prev, change in c["rows"]]
    lines += ["", t["top"] + ":"]
    lines += [f"  {label}: {n} ({share})" for label, n, share in c["categories"]] or ["  " + t["none"]]
    lines += ["", t["notes"] + ":", "  " + t["note_sla"], "  " + t["note_times"], "  " + t["note_privacy"], ""]
    lines.append(t["footer"].format(generated=c["generated"]))
    return "\n".join(lines)


def to_csv(data: dict[str, Any], locale: str) -> str:
    """Figure, this period, previous period, change; then the top categories (UTF-8 with BOM for spreadsheets)."""
    c = _context(data, locale)
    t = c["t"]
    buf = io.StringIO()
    w = csvsafe.writer(buf)  # the organization and category names are user-controlled
    w.writerow([c["title"], data["first_day"], data["last_day"], data["brand"]])
    w.writerow([t["figure"], t["this"], t["previous"], t["change"]])
    w.writerows([list(r) for r in c["rows"]])
    w.writerow([])
    w.writerow([t["category"], t["tickets"], t["share"]])
    w.writerows([list(r) for r in c["categories"]])
    return "\ufeff" + buf.getvalue()


def to_pdf(data: dict[str, Any], locale: str) -> bytes:
    """The same content as a PDF (kefu.privacy.pdf, standard CJK fonts)."""
    # CLDR puts U+202F before "AM"/"PM"; the PDF's standard fonts have no glyph for it.
    lines = to_text(data, locale).replace("\u202f", " ").split("\n")[1:]
    return render_pdf(title(data, locale), lines, locale=locale)


# --------------------------------------------------------------------------- delivery


def overview(session: Session, principal: Principal) -> list[tuple[Organization, OrgReportSettings | None]]:
    """The organizations the principal may see, by name, each with its report settings (None: never set)."""
    orgs = list(
        session.scalars(
            scope_to_brands(
                select(Organization).order_by(Organization.name, Organization.id), Organization.brand_id, principal
            )
        )
    )
    rows = session.scalars(select(OrgReportSettings).where(OrgReportSettings.organization_id.in_([o.id for o in orgs])))
    settings = {s.organization_id: s for s in rows}
    return [(o, settings.get(o.id)) for o in orgs]


def last_period_of(session: Session, org: Organization, now: datetime | None = None) -> str:
    """The organization's last full period (its settings' kind, monthly if unset) in its brand's timezone."""
    settings = get_settings(session, org)
    brand = session.get(Brand, org.brand_id)
    tz = _zone(brand)
    return last_full_period(settings.period if settings else "monthly", now or utcnow(), tz)


def report_of(session: Session, org: Organization, period_key: str) -> OrgReport | None:
    """The report already made for this organization and period, if any."""
    return session.scalar(
        select(OrgReport).where(OrgReport.organization_id == org.id, OrgReport.period_key == period_key)
    )


def reports_of(session: Session, org: Organization) -> list[OrgReport]:
    """Past reports of the organization, newest period first."""
    return list(
        session.scalars(
            select(OrgReport).where(OrgReport.organization_id == org.id).order_by(OrgReport.period_key.desc())
        )
    )


def get_report(session: Session, org: Organization, report_id: int) -> OrgReport:
    """One past report of this organization (404 for another organization's)."""
    row = session.get(OrgReport, report_id)
    if row is None or row.organization_id != org.id:
        raise NotFound.said("err_analytics_report_not_found", report_id=report_id)
    return row


def stored_data(report: OrgReport) -> dict[str, Any]:
    """A past report's figures, refused (409) when stored in a layout this version cannot render."""
    data = report.data or {}
    if data.get("format") != FORMAT:
        raise Conflict.said("err_analytics_report_format", report_id=report.id)
    return data


def _queue_mail(session: Session, org: Organization, report: OrgReport, inbox: Any) -> list[int]:
    """One outbox e-mail per recipient with the CSV and PDF attached (the outbox sends after the commit)."""
    data, locale = report.data, report.locale
    files = report_mail.store_files(
        session,
        org.brand_id,
        f"org-report-{org.id}-{report.period_key}",
        (
            ("csv", "text/csv", to_csv(data, locale).encode("utf-8")),
            ("pdf", "application/pdf", to_pdf(data, locale)),
        ),
    )
    return report_mail.queue(
        session,
        inbox,
        report.recipients,
        subject=title(data, locale),
        text=to_text(data, locale),
        html=to_html(data, locale),
        attachments=files,
        key=f"org-report:{report.id}",
    )


def send(
    session: Session,
    org: Organization,
    period_key: str,
    actor: Principal | None = None,
    *,
    now: datetime | None = None,
    settings: OrgReportSettings | None = None,
) -> OrgReport | None:
    """Make and queue the organization's report for the period; None when it was already made (exactly once).

    The caller commits: the report row, its outbox rows and the audit entry land together or not at all.
    """
    from kefu.notices.service import mailbox

    settings = settings if settings is not None else get_settings(session, org)
    if settings is None or not settings.recipients:
        raise InvalidInput.said("err_analytics_no_recipients")
    if report_of(session, org, period_key) is not None:
        return None
    inbox = mailbox(session, org.brand_id)
    if inbox is None:
        raise Conflict.said("err_analytics_no_email_inbox")
    brand = session.get(Brand, org.brand_id)
    tz = _zone(brand)
    period, first, nxt = period_bounds(period_key)
    if _utc(nxt, tz) + SETTLE > (now or utcnow()):
        # A partial period sent now would use up its one report: the full one could never follow.
        raise InvalidInput.said("err_analytics_period_open", period=period_key)
    data = compute(session, org, period_key, now)
    report = OrgReport(
        brand_id=org.brand_id,
        organization_id=org.id,
        period_key=period_key,
        period=period,
        start=_utc(first, tz),
        end=_utc(nxt, tz),
        locale=settings.locale,
        recipients=list(settings.recipients),
        data=data,
        status="queued",
        triggered_by=actor.agent_id if actor is not None else None,
    )
    try:
        with session.begin_nested():  # a concurrent run that inserted first wins; this one sends nothing
            session.add(report)
            session.flush()
    except IntegrityError:
        return None
    report.outbox_ids = _queue_mail(session, org, report, inbox)
    record(
        session,
        actor,
        "organization.report_sent",
        target_type="organization",
        target_id=org.id,
        brand_id=org.brand_id,
        details={"report_id": report.id, "period": period_key, "recipients": len(report.recipients)},
    )
    session.flush()
    return report


def due(session: Session, now: datetime | None = None) -> list[tuple[Organization, OrgReportSettings, str]]:
    """Enabled organizations whose last full period has no report yet (two statements, however many there are)."""
    now = now or utcnow()
    stmt = (
        select(OrgReportSettings, Organization, Brand.timezone)
        .join(Organization, Organization.id == OrgReportSettings.organization_id)
        .join(Brand, Brand.id == Organization.brand_id)
        .where(OrgReportSettings.enabled.is_(True))
        .order_by(OrgReportSettings.organization_id)
    )
    wanted = [
        (org, settings, last_full_period(settings.period, now, tz or "Asia/Taipei"))
        for settings, org, tz in session.execute(stmt).all()
        if settings.period in ORG_REPORT_PERIODS and settings.locale in ORG_REPORT_LOCALES
    ]
    if not wanted:
        return []
    made = {
        (int(org_id), str(key))
        for org_id, key in session.execute(
            select(OrgReport.organization_id, OrgReport.period_key).where(
                OrgReport.organization_id.in_([org.id for org, _, _ in wanted]),
                OrgReport.period_key.in_({key for _, _, key in wanted}),
            )
        ).all()
    }
    return [(org, settings, key) for org, settings, key in wanted if (org.id, key) not in made]
