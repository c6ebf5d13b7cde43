"""The weekly service report and monthly white paper mailed to each brand's leads (週度服務報告, every week).

Due on Monday (weekly, the week before) or the 1st (monthly, the month before) from 08:00 in the brand's
timezone. One `brand_reports` row per (brand, kind, period), inserted in the transaction that queues the mails,
makes a rerun or a second worker send nothing twice. The mail goes through the brand's e-mail inbox and the outbox
(after commit), like the organization reports (kefu.analytics.report_mail).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kefu.analytics import report_mail, reports
from kefu.analytics.models import BrandReport
from kefu.analytics.service import Filters
from kefu.audit.service import record
from kefu.auth.models import Agent, AgentBrand, Team, TeamMember
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand, Inbox
from kefu.core.catalog import gettext
from kefu.core.commands import ensure
from kefu.core.db import utcnow

# The reports are due this long after their period ends (local time): Monday / the 1st, 08:00.
SEND_AFTER = timedelta(hours=8)
SETTING = "report_mail"
ROLES = ("leads", "supervisors", "admins")
LOCALES = ("zh-TW", "zh-CN", "en")
Role = Literal["leads", "supervisors", "admins"]


class ReportMailSettings(BaseModel):
    """A brand's report mail: on/off (None: on when the brand has a mail route), who gets it, who opted out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    roles: list[Role] = Field(default_factory=lambda: list[Role](["leads"]), max_length=3)
    opt_out: list[int] = Field(default_factory=list, max_length=500)  # agent ids


def settings_of(brand: Brand) -> ReportMailSettings:
    """The brand's report mail settings (defaults when never set; an invalid stored value reads as defaults)."""
    raw = (brand.settings or {}).get(SETTING) or {}
    try:
        return ReportMailSettings.model_validate(raw)
    except ValueError:
        return ReportMailSettings()


def save_settings(
    session: Session, brand: Brand, actor: Principal | None, command: ReportMailSettings | dict[str, Any]
) -> ReportMailSettings:
    """Replace the brand's report mail settings (audited)."""
    cmd = ensure(ReportMailSettings, command)
    cmd = cmd.model_copy(update={"roles": list(dict.fromkeys(cmd.roles)), "opt_out": sorted(set(cmd.opt_out))})
    brand.settings = {**(brand.settings or {}), SETTING: cmd.model_dump()}
    session.flush()
    record(
        session,
        actor,
        "brand.report_mail_settings",
        target_type="brand",
        target_id=brand.id,
        brand_id=brand.id,
        details=cmd.model_dump(),
    )
    return cmd


def mail_route(session: Session, brand_id: int) -> Any:
    """The brand's e-mail inbox the reports go out through (None: no mail route, nothing is sent)."""
    from kefu.notices.service import mailbox

    return mailbox(session, brand_id)


def is_enabled(cfg: ReportMailSettings, route: Any) -> bool:
    """On unless turned off; never without a mail route."""
    return route is not None and cfg.enabled is not False


# --------------------------------------------------------------------------- periods


def period_key(kind: str, start: datetime, tz: str) -> str:
    """`2026-W49` (ISO week of the local Monday) or `2026-11`."""
    d = start.astimezone(ZoneInfo(tz)).date()
    if kind == "weekly":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{d.year}-{d.month:02d}"


def due_period(kind: str, now: datetime, tz: str) -> tuple[str, datetime, datetime]:
    """(key, start, end) of the period whose report is due at `now`: the last one that ended 8 hours ago or more."""
    start, end = reports.period_for(kind, now - SEND_AFTER, tz)
    return period_key(kind, start, tz), start, end


# --------------------------------------------------------------------------- recipients


def recipients(session: Session, brand_id: int, cfg: ReportMailSettings) -> list[Agent]:
    """Active agents of this brand in the chosen roles who have not opted out, by id."""
    conds: list[ColumnElement[bool]] = []
    if "leads" in cfg.roles:
        conds.append(
            Agent.id.in_(
                select(TeamMember.agent_id)
                .join(Team, Team.id == TeamMember.team_id)
                .where(Team.brand_id == brand_id, TeamMember.is_lead.is_(True))
            )
        )
    if "supervisors" in cfg.roles:
        conds.append(
            (Agent.role == "supervisor")
            & Agent.id.in_(select(AgentBrand.agent_id).where(AgentBrand.brand_id == brand_id))
        )
    if "admins" in cfg.roles:
        # admins who work in this brand (an admin's brand list): every admin of the install would mail other tenants
        conds.append(
            (Agent.role == "admin") & Agent.id.in_(select(AgentBrand.agent_id).where(AgentBrand.brand_id == brand_id))
        )
    if not conds:
        return []
    stmt = select(Agent).where(Agent.is_active.is_(True), or_(*conds)).order_by(Agent.id)
    if cfg.opt_out:
        stmt = stmt.where(Agent.id.not_in(cfg.opt_out))
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- sending


def reports_of(session: Session, brand_ids: list[int], kind: str, limit: int = 20) -> list[BrandReport]:
    """The reports of `kind` mailed for these brands, newest first."""
    if not brand_ids:
        return []
    return list(
        session.scalars(
            select(BrandReport)
            .where(BrandReport.brand_id.in_(brand_ids), BrandReport.kind == kind)
            .order_by(BrandReport.created_at.desc(), BrandReport.id.desc())
            .limit(limit)
        )
    )


def _body(rep: reports.Report) -> tuple[str, str]:
    """A short text and HTML body: the key figures; the full report is the attached PDF."""
    from markupsafe import escape

    intro = gettext("brandrep_intro", rep.locale).format(period=rep.period_in(rep.locale))
    lines = [f"{k.label}: {k.value}" for k in rep.kpis]
    text = "\n".join([rep.title, "", intro, "", *lines])
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    head = f'<!doctype html><html lang="{rep.locale}"><body><h1>{escape(rep.title)}</h1>'
    html = f"{head}<p>{escape(intro)}</p><ul>{items}</ul></body></html>"
    return text, html


def send(session: Session, brand: Brand, kind: str, now: datetime | None = None) -> BrandReport | None:
    """Make and queue the brand's due report of `kind`; None when already made, off, or no one to send to.

    The caller commits: the row and its outbox rows land together or not at all.
    """
    now = now or utcnow()
    cfg = settings_of(brand)
    route = mail_route(session, brand.id)
    if not is_enabled(cfg, route):
        return None
    tz = brand.timezone or "Asia/Taipei"
    key, start, end = due_period(kind, now, tz)
    if brand.created_at and end <= brand.created_at:
        return None  # a period that ended before the brand existed has nothing to report
    made = select(BrandReport.id).where(
        BrandReport.brand_id == brand.id, BrandReport.kind == kind, BrandReport.period_key == key
    )
    if session.scalar(made) is not None:
        return None
    people = [a for a in recipients(session, brand.id, cfg) if a.email]
    if not people:
        return None
    row = BrandReport(brand_id=brand.id, kind=kind, period_key=key, start=start, end=end, recipients=[])
    try:
        with session.begin_nested():  # a concurrent run that inserted first wins; this one sends nothing
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    by_locale: dict[str, list[Agent]] = {}
    for a in people:
        by_locale.setdefault(a.locale if a.locale in LOCALES else "zh-TW", []).append(a)
    f = Filters(start, end, (brand.id,), None, now)
    ids: list[int] = []
    for locale, group in by_locale.items():
        rep = reports.build(session, f, kind, locale)
        files = report_mail.store_files(
            session, brand.id, f"{kind}-report-{brand.slug}-{key}", (("pdf", "application/pdf", reports.to_pdf(rep)),)
        )
        text, html = _body(rep)
        ids += report_mail.queue(
            session,
            route,
            [a.email for a in group],
            subject=rep.title,
            text=text,
            html=html,
            attachments=files,
            key=f"brand-report:{row.id}",
        )
    row.recipients = [a.id for a in people]
    row.outbox_ids = ids
    record(
        session,
        None,
        "brand.report_sent",
        target_type="brand",
        target_id=brand.id,
        brand_id=brand.id,
        details={"report_id": row.id, "kind": kind, "period": key, "recipients": len(people)},
    )
    session.flush()
    return row


def due_brands(session: Session, now: datetime) -> list[tuple[Brand, str]]:
    """(brand, kind) whose due report is not made yet (one statement for the rows already made)."""
    brands = list(session.scalars(select(Brand).order_by(Brand.id)))
    wanted = [
        (b, kind, due_period(kind, now, b.timezone or "Asia/Taipei")[0]) for b in brands for kind in reports.KINDS
    ]
    if not wanted:
        return []
    made = {
        (int(b), str(k), str(p))
        for b, k, p in session.execute(
            select(BrandReport.brand_id, BrandReport.kind, BrandReport.period_key).where(
                BrandReport.period_key.in_({key for _, _, key in wanted})
            )
        ).all()
    }
    return [(b, kind) for b, kind, key in wanted if (b.id, kind, key) not in made]


def console_list(session: Session, brand_ids: list[int], kind: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The mailed reports of `kind` for these brands (period, sent at, recipients, download query) and the names
    of the brands that get none because they have no mail route or turned it off."""
    brands = {b.id: b for b in session.scalars(select(Brand).where(Brand.id.in_(brand_ids)).order_by(Brand.id))}
    routed = set(
        session.scalars(
            select(Inbox.brand_id).where(
                Inbox.brand_id.in_(brand_ids), Inbox.kind == "email", Inbox.is_active.is_(True)
            )
        )
    )
    silent = [b.name for b in brands.values() if not is_enabled(settings_of(b), True if b.id in routed else None)]
    rows = []
    for r in reports_of(session, list(brands), kind):
        b = brands[r.brand_id]
        query = {"brand_id": str(b.id), "start": r.start.isoformat(), "end": r.end.isoformat()}
        rows.append(
            {
                "brand": b.name,
                "period": r.period_key,
                "sent_at": r.created_at,
                "recipients": len(r.recipients),
                "query": query,
                "tz": b.timezone or "Asia/Taipei",
            }
        )
    return rows, silent
