"""Quarterly quality loop: attribute negative feedback to root causes, plan improvements, sample for auditors.

Seed 000 promises 「對所有回饋進行歸因分析與分類建檔，納入季度品質改善計畫，確保問題即時追蹤與關閉」 and 第三方抽檢.
Read as:

* **Negative feedback** is one list over its sources, built in SQL (`feedback_items`): CSAT surveys answered with
  ``LOW_RATING`` stars or fewer, satisfaction-campaign answers with a dimension at ``LOW_RATING`` or below, every
  complaint, QA reviews that did not pass, "not helpful" votes on bot answers and third-party audit findings below
  ``AUDIT_PASS_SCORE``. Each item can be filed under one root cause of the brand's taxonomy (defaults 產品/流程/
  人員/系統/政策, labelled in zh-TW, zh-CN and en; a brand may add its own) — an attribution, audited.
* **Quarters** are calendar quarters in the brand's timezone (``2026Q4`` = Oct 1 00:00 to Jan 1 00:00 local);
  an item belongs to the quarter in which it happened (survey answered, complaint received, review done …).
* **Plans**: one per brand and quarter. `draft_plan` proposes one improvement item per top cause of the previous
  quarter's attributions (the cause's items as evidence, due on the quarter's last day); leads edit items, set
  owners and due dates and move them open → in_progress → done → closed (closing needs a verification note).
  Items past their due date and not done are overdue. The quarter report shows progress (items completed on or
  before their due date, as a share of all items) next to the quarter's quality KPIs from `kefu.analytics.service`.
* **Third-party sampling**: `create_sample` records a seeded random sample (default 5 %, ``ceil(rate × N)``) of the
  quarter's closed cases; the export masks personal data through `kefu.privacy.contract.mask_json` (always, whoever
  exports) and is audited; the auditor's findings come back as CSV and join the feedback items (source ``audit``).
"""

from __future__ import annotations

import io
import math
import random
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, String, Text, and_, cast, func, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from kefu.analytics import service as analytics
from kefu.audit.service import record
from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.auth.service import ensure_assignable
from kefu.bot.models import BotFeedback
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.complaints.models import Complaint
from kefu.conversations.models import Conversation, Message
from kefu.core.access import ensure_brand, get_in_brand, scope_to_brands
from kefu.core.commands import changes_of
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.l10n import zone
from kefu.customers.models import Customer
from kefu.privacy.contract import Kind, mask_json, output_kinds
from kefu.qa.models import QaReview
from kefu.quality.commands import (
    AttributeFeedback,
    ChangeItemStatus,
    CreateCause,
    CreatePlanItem,
    CreateSample,
    DraftPlan,
    Evidence,
    ImportFindings,
    UpdateCause,
    UpdatePlan,
    UpdatePlanItem,
    ensure,
)
from kefu.quality.models import (
    AuditFinding,
    AuditSample,
    FeedbackAttribution,
    FeedbackSource,
    ItemStatus,
    QualityCause,
    QualityPlan,
    QualityPlanItem,
)
from kefu.security.csvsafe import dict_rows, reader, restore_cell, writer
from kefu.surveys.models import CampaignAnswer, CampaignRecipient, CsatSurvey
from kefu.tickets.models import Ticket

LOW_RATING = 2  # CSAT stars / campaign scores (1–5) at or below this are negative feedback
AUDIT_PASS_SCORE = 80.0  # an auditor's score (0–100) below this is negative feedback
TRANSCRIPT_MESSAGES = 40  # public messages per case in the auditor's export
SOURCES: tuple[str, ...] = tuple(FeedbackSource)
# (key, zh-TW, zh-CN, en): the taxonomy a brand starts with, written for each locale's readers.
DEFAULT_CAUSES: tuple[tuple[str, str, str, str], ...] = (
    ("product", "產品", "产品", "Product"),
    ("process", "流程", "流程", "Process"),
    ("people", "人員", "人员", "People"),
    ("system", "系統", "系统", "System"),
    ("policy", "政策", "政策", "Policy"),
)
ITEM_MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "done", "closed"}),
    "in_progress": frozenset({"open", "done", "closed"}),
    "done": frozenset({"in_progress", "closed"}),  # back to work when verification fails
    "closed": frozenset(),
}
OPEN_ITEM_STATUSES = ("open", "in_progress")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
# Export columns: personal data keys are masked by their declared kind (mask_json), the rest as text.
EXPORT_COLUMNS = (
    "case_number", "channel", "category", "priority", "status", "created_at", "first_response_at", "resolved_at",
    "closed_at", "subject", "description", "customer_name", "customer_email", "customer_phone", "csat_rating",
    "csat_comment", "transcript",
)  # fmt: skip
_EXPORT_KINDS: dict[str, Kind] = {"customer_name": "name", "customer_email": "contact", "customer_phone": "contact"}


# ---------------------------------------------------------------- quarters


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter in a timezone: its label and its [start, end) in UTC."""

    label: str
    year: int
    q: int
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        """The quarter's first local day."""
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def last_day(self) -> date:
        """The quarter's last local day."""
        nxt = date(self.year + (self.q == 4), 1 if self.q == 4 else 3 * self.q + 1, 1)
        return nxt - timedelta(days=1)


def parse_quarter(label: str) -> tuple[int, int]:
    """(year, quarter) of ``2026Q4``; InvalidInput otherwise."""
    m = _QUARTER.match(label.strip().upper()) if isinstance(label, str) else None
    if m is None:
        raise InvalidInput.said("err_quality_quarter_format", label=label)
    return int(m.group(1)), int(m.group(2))


def quarter(label: str, tz: str) -> Quarter:
    """The quarter ``label`` in the timezone ``tz``."""
    year, q = parse_quarter(label)
    zone_ = zone(tz)
    start = datetime(year, 3 * q - 2, 1, tzinfo=zone_)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=zone_)
    return Quarter(f"{year}Q{q}", year, q, start.astimezone(UTC), end.astimezone(UTC))


def quarter_of(at: datetime, tz: str) -> str:
    """The label of the quarter `at` falls in, in the timezone ``tz``."""
    local = at.astimezone(zone(tz))
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def previous_quarter(label: str) -> str:
    """The quarter before ``label``."""
    year, q = parse_quarter(label)
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def brand_today(brand: Brand, now: datetime | None = None) -> date:
    """Today in the brand's timezone."""
    return (now or utcnow()).astimezone(zone(brand.timezone)).date()


def _brand_quarter(
    session: Session, actor: Principal | None, brand_id: int, label: str | None
) -> tuple[Brand, Quarter]:
    brand = get_brand(session, brand_id, actor)
    return brand, quarter(label or quarter_of(utcnow(), brand.timezone), brand.timezone)


# ---------------------------------------------------------------- causes


def causes(session: Session, actor: Principal | None, brand_id: int) -> list[QualityCause]:
    """The brand's taxonomy (the defaults are created on first use), in display order."""
    get_brand(session, brand_id, actor)
    rows = list(
        session.scalars(
            select(QualityCause)
            .where(QualityCause.brand_id == brand_id)
            .order_by(QualityCause.position, QualityCause.id)
        )
    )
    if rows:
        return rows
    for i, (key, tw, cn, en) in enumerate(DEFAULT_CAUSES):
        session.add(QualityCause(brand_id=brand_id, key=key, label_zh_tw=tw, label_zh_cn=cn, label_en=en, position=i))
    session.flush()
    return causes(session, actor, brand_id)


def cause_label(cause: QualityCause, locale: str) -> str:
    """The cause's label for a locale (zh-TW for unknown locales)."""
    return {"zh-CN": cause.label_zh_cn, "en": cause.label_en}.get(locale, cause.label_zh_tw)


def cause_labels(rows: Sequence[QualityCause], locale: str) -> dict[str, str]:
    """key → label."""
    return {c.key: cause_label(c, locale) for c in rows}


def _active_cause(session: Session, actor: Principal | None, brand_id: int, key: str) -> QualityCause:
    for c in causes(session, actor, brand_id):
        if c.key == key and c.is_active:
            return c
    raise InvalidInput.said("err_quality_unknown_cause", key=key)


def create_cause(session: Session, actor: Principal, command: CreateCause | Mapping[str, Any]) -> QualityCause:
    """Add a cause to a brand's taxonomy (unique key)."""
    cmd = ensure(CreateCause, command)
    existing = causes(session, actor, cmd.brand_id)
    if any(c.key == cmd.key for c in existing):
        raise Conflict.said("err_quality_cause_exists", key=cmd.key)
    row = QualityCause(**cmd.model_dump(), position=max((c.position for c in existing), default=-1) + 1)
    session.add(row)
    session.flush()
    record(session, actor, "quality.cause_create", target_type="quality_cause", target_id=row.id,
           brand_id=row.brand_id, details={"key": row.key})  # fmt: skip
    return row


def update_cause(
    session: Session, cause_id: int, actor: Principal, command: UpdateCause | Mapping[str, Any]
) -> QualityCause:
    """Relabel or (de)activate a cause."""
    cmd = ensure(UpdateCause, command)
    row = get_in_brand(session, QualityCause, cause_id, actor, "Cause")
    changes = changes_of(cmd)
    for key, value in changes.items():
        if value is None:
            raise InvalidInput.said("err_quality_empty", key=key)
        setattr(row, key, value)
    session.flush()
    record(session, actor, "quality.cause_update", target_type="quality_cause", target_id=row.id,
           brand_id=row.brand_id, details=changes)  # fmt: skip
    return row


# ---------------------------------------------------------------- feedback items


def _row(source: str, id_: Any, brand: Any, ticket: Any, when: Any, score: Any, detail: Any) -> Select[Any]:
    # literal_column, not a bind parameter: PostgreSQL cannot type parameters in a UNION's select list.
    return select(
        literal_column(f"'{source}'", String(16)).label("source"),
        id_.label("source_id"),
        brand.label("brand_id"),
        (ticket if ticket is not None else cast(null(), Ticket.id.type)).label("ticket_id"),
        when.label("occurred_at"),
        cast(score if score is not None else null(), Float).label("score"),
        (cast(detail, Text) if detail is not None else literal_column("''", Text)).label("detail"),
    )


def _source_select(source: str, audit_pass: float = AUDIT_PASS_SCORE) -> tuple[Select[Any], Any, Any]:
    """(select of source, source_id, brand_id, ticket_id, occurred_at, score, detail; its id column; its time)."""
    if source == "csat":
        s = CsatSurvey
        stmt = _row(source, s.id, s.brand_id, s.ticket_id, s.answered_at, s.rating, s.comment)
        return stmt.where(s.answered_at.is_not(None), s.rating <= LOW_RATING), s.id, s.answered_at
    if source == "campaign":
        r = CampaignRecipient
        low = select(func.min(CampaignAnswer.score)).where(CampaignAnswer.recipient_id == r.id).scalar_subquery()
        stmt = _row(source, r.id, r.brand_id, None, r.answered_at, low, r.comment)
        return stmt.where(r.answered_at.is_not(None), low <= LOW_RATING), r.id, r.answered_at
    if source == "complaint":
        c = Complaint
        return _row(source, c.id, c.brand_id, c.ticket_id, c.received_at, None, c.description), c.id, c.received_at
    if source == "qa":
        q = QaReview
        stmt = _row(source, q.id, q.brand_id, q.ticket_id, q.reviewed_at, q.total, q.comment)
        return stmt.where(q.status == "done", q.passed.is_(False), q.reviewed_at.is_not(None)), q.id, q.reviewed_at
    if source == "bot":
        b = BotFeedback
        stmt = _row(source, b.id, b.brand_id, None, b.created_at, None, None)
        return stmt.where(b.helpful.is_(False)), b.id, b.created_at
    if source == "audit":
        a = AuditFinding
        stmt = _row(source, a.id, a.brand_id, a.ticket_id, a.created_at, a.score, a.finding)
        return stmt.where(a.score < audit_pass), a.id, a.created_at
    raise InvalidInput.said("err_quality_source_choice", choices=list(SOURCES))


def _source_model(source: str) -> Any:
    return {"csat": CsatSurvey, "campaign": CampaignRecipient, "complaint": Complaint, "qa": QaReview,
            "bot": BotFeedback, "audit": AuditFinding}[source]  # fmt: skip


def _items_union(brand_id: int, q: Quarter, sources: Sequence[str] = SOURCES) -> Any:
    parts = []
    for source in sources:
        stmt, _, when = _source_select(source)
        model = _source_model(source)
        parts.append(stmt.where(model.brand_id == brand_id, when >= q.start, when < q.end))
    return union_all(*parts).subquery("feedback")


@dataclass(frozen=True)
class FeedbackItem:
    """One negative feedback item and its attribution (if filed)."""

    source: str
    source_id: int
    brand_id: int
    ticket_id: int | None
    ticket_number: str | None
    occurred_at: datetime
    score: float | None
    detail: str
    cause_key: str | None
    note: str


def feedback_items(
    session: Session,
    actor: Principal | None,
    *,
    brand_id: int,
    quarter_label: str | None = None,
    source: str | None = None,
    unattributed: bool = False,
    cause_key: str | None = None,
    limit: int = 100,
) -> list[FeedbackItem]:
    """The quarter's negative feedback items, newest first, with their causes (one SQL statement)."""
    _, q = _brand_quarter(session, actor, brand_id, quarter_label)
    if source is not None and source not in SOURCES:
        raise InvalidInput.said("err_quality_source_choice", choices=list(SOURCES))
    u = _items_union(brand_id, q, (source,) if source else SOURCES)
    fa = FeedbackAttribution
    stmt = (
        select(u, fa.cause_key, fa.note, Ticket.number)
        .outerjoin(fa, and_(fa.source == u.c.source, fa.source_id == u.c.source_id))
        .outerjoin(Ticket, Ticket.id == u.c.ticket_id)
        .order_by(u.c.occurred_at.desc(), u.c.source, u.c.source_id.desc())
        .limit(limit)
    )
    if unattributed:
        stmt = stmt.where(fa.id.is_(None))
    if cause_key:
        stmt = stmt.where(fa.cause_key == cause_key)
    out = []
    for row in session.execute(stmt).mappings():
        out.append(
            FeedbackItem(
                source=str(row["source"]),
                source_id=int(row["source_id"]),
                brand_id=int(row["brand_id"]),
                ticket_id=row["ticket_id"],
                ticket_number=row["number"],
                occurred_at=_aware(row["occurred_at"]),
                score=row["score"],
                detail=str(row["detail"] or ""),
                cause_key=row["cause_key"],
                note=str(row["note"] or ""),
            )
        )
    return out


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite returns union columns as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def attribute(
    session: Session, actor: Principal | None, command: AttributeFeedback | Mapping[str, Any]
) -> FeedbackAttribution:
    """File a negative feedback item under a cause of its brand (or move it to another cause); audited."""
    cmd = ensure(AttributeFeedback, command)
    source = str(cmd.source)
    stmt, id_col, _ = _source_select(source)
    found = session.execute(stmt.where(id_col == cmd.source_id)).mappings().first()
    if found is None:
        raise NotFound.said("err_quality_feedback_not_found")
    brand_id = int(found["brand_id"])
    ensure_brand(actor, brand_id, "Feedback item")
    _active_cause(session, actor, brand_id, cmd.cause_key)
    row = session.scalar(
        select(FeedbackAttribution).where(
            FeedbackAttribution.source == source, FeedbackAttribution.source_id == cmd.source_id
        )
    )
    before = row.cause_key if row else None
    if row is None:
        row = FeedbackAttribution(
            brand_id=brand_id, source=source, source_id=cmd.source_id, ticket_id=found["ticket_id"],
            occurred_at=_aware(found["occurred_at"]),
        )  # fmt: skip
        session.add(row)
    row.cause_key, row.note = cmd.cause_key, cmd.note.strip()
    row.attributed_by = actor.agent_id if actor else None
    row.attributed_at = utcnow()
    session.flush()
    record(
        session, actor, "quality.attribute", target_type="feedback_attribution", target_id=row.id, brand_id=brand_id,
        details={"source": source, "source_id": cmd.source_id, "cause": cmd.cause_key, "before": before},
    )  # fmt: skip
    return row


@dataclass(frozen=True)
class SummaryRow:
    """Attributed items of one cause from one source."""

    cause_key: str
    source: str
    count: int


@dataclass(frozen=True)
class Summary:
    """A quarter's attribution summary: counts by cause and source, totals, and what is still unattributed."""

    brand_id: int
    quarter: str
    rows: list[SummaryRow]
    by_cause: dict[str, int]
    by_source: dict[str, int]  # every negative item, attributed or not
    unattributed: dict[str, int]

    @property
    def total(self) -> int:
        """Negative feedback items in the quarter."""
        return sum(self.by_source.values())

    @property
    def attributed(self) -> int:
        """Items filed under a cause."""
        return sum(self.by_cause.values())

    def top(self, n: int) -> list[tuple[str, int]]:
        """The n causes with the most items (ties by key)."""
        return sorted(self.by_cause.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def summary(session: Session, actor: Principal | None, brand_id: int, quarter_label: str | None = None) -> Summary:
    """Counts by cause and source for the quarter (two grouped SQL statements)."""
    _, q = _brand_quarter(session, actor, brand_id, quarter_label)
    fa = FeedbackAttribution
    rows = session.execute(
        select(fa.cause_key, fa.source, func.count(fa.id))
        .where(fa.brand_id == brand_id, fa.occurred_at >= q.start, fa.occurred_at < q.end)
        .group_by(fa.cause_key, fa.source)
        .order_by(fa.cause_key, fa.source)
    ).all()
    u = _items_union(brand_id, q)
    totals = session.execute(
        select(u.c.source, func.count(), func.count(fa.id))
        .select_from(u)
        .outerjoin(fa, and_(fa.source == u.c.source, fa.source_id == u.c.source_id))
        .group_by(u.c.source)
    ).all()
    out_rows = [SummaryRow(str(c), str(s), int(n)) for c, s, n in rows]
    by_cause: dict[str, int] = {}
    for r in out_rows:
        by_cause[r.cause_key] = by_cause.get(r.cause_key, 0) + r.count
    by_source = {s: 0 for s in SOURCES} | {str(s): int(n) for s, n, _ in totals}
    unattributed = {s: 0 for s in SOURCES} | {str(s): int(n) - int(a) for s, n, a in totals}
    return Summary(brand_id, q.label, out_rows, by_cause, by_source, unattributed)


# ---------------------------------------------------------------- plans


def get_plan(session: Session, plan_id: int, actor: Principal | None) -> QualityPlan:
    """One plan (404 across brands)."""
    return get_in_brand(session, QualityPlan, plan_id, actor, "Plan")


def find_plan(session: Session, actor: Principal | None, brand_id: int, quarter_label: str) -> QualityPlan | None:
    """The brand's plan for a quarter, if drafted."""
    _, q = _brand_quarter(session, actor, brand_id, quarter_label)
    return session.scalar(select(QualityPlan).where(QualityPlan.brand_id == brand_id, QualityPlan.quarter == q.label))


def list_plans(session: Session, actor: Principal | None, brand_id: int) -> list[QualityPlan]:
    """A brand's plans, newest quarter first."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(
            select(QualityPlan).where(QualityPlan.brand_id == brand_id).order_by(QualityPlan.quarter.desc())
        )
    )


def plan_items(session: Session, plan: QualityPlan) -> list[QualityPlanItem]:
    """A plan's items, by due date."""
    return list(
        session.scalars(
            select(QualityPlanItem)
            .where(QualityPlanItem.plan_id == plan.id)
            .order_by(QualityPlanItem.due_date, QualityPlanItem.id)
        )
    )


@dataclass(frozen=True)
class Proposal:
    """An item a draft adds: the cause, how many items it had last quarter, the evidence."""

    cause_key: str
    title: str
    count: int
    evidence: list[dict[str, Any]]
    due_date: date


@dataclass
class Draft:
    """What drafting did (or, in a dry run, would do)."""

    brand_id: int
    quarter: str
    based_on: Summary
    proposals: list[Proposal]
    plan: QualityPlan | None = None
    created: list[QualityPlanItem] = field(default_factory=list)
    dry_run: bool = False


def draft_plan(session: Session, actor: Principal | None, command: DraftPlan | Mapping[str, Any]) -> Draft:
    """The quarter's plan with one item per top cause of the previous quarter not yet in it (idempotent).

    Evidence: the cause's attributed items of the previous quarter (newest 50). Due: the quarter's last day.
    """
    cmd = ensure(DraftPlan, command)
    brand, q = _brand_quarter(session, actor, cmd.brand_id, cmd.quarter)
    based = summary(session, actor, brand.id, previous_quarter(q.label))
    labels = cause_labels(causes(session, actor, brand.id), brand.default_locale)
    plan = session.scalar(select(QualityPlan).where(QualityPlan.brand_id == brand.id, QualityPlan.quarter == q.label))
    have = {i.cause_key for i in plan_items(session, plan)} if plan else set()
    prev = quarter(based.quarter, brand.timezone)
    proposals = []
    for key, n in based.top(cmd.top):
        if key in have:
            continue
        fa = FeedbackAttribution
        refs = session.execute(
            select(fa.source, fa.source_id)
            .where(
                fa.brand_id == brand.id, fa.cause_key == key, fa.occurred_at >= prev.start, fa.occurred_at < prev.end
            )
            .order_by(fa.occurred_at.desc(), fa.id.desc())
            .limit(50)
        ).all()
        title = f"{labels.get(key, key)} ({n}, {based.quarter})"
        evidence = [{"source": str(s), "id": int(i)} for s, i in refs]
        proposals.append(Proposal(key, title, n, evidence, q.last_day))
    draft = Draft(brand.id, q.label, based, proposals, plan, dry_run=cmd.dry_run)
    if cmd.dry_run:
        return draft
    if plan is None:
        plan = QualityPlan(brand_id=brand.id, quarter=q.label, notes="", created_by=actor.agent_id if actor else None)
        session.add(plan)
        session.flush()
        draft.plan = plan
    for p in proposals:
        item = QualityPlanItem(
            plan_id=plan.id, brand_id=brand.id, title=p.title[:300], cause_key=p.cause_key, evidence=p.evidence,
            due_date=p.due_date, status="open", verification_note="", created_by=actor.agent_id if actor else None,
        )  # fmt: skip
        session.add(item)
        draft.created.append(item)
    plan.updated_at = utcnow()
    session.flush()
    record(
        session, actor, "quality.plan_draft", target_type="quality_plan", target_id=plan.id, brand_id=brand.id,
        details={"quarter": q.label, "from": based.quarter, "items": [p.cause_key for p in proposals]},
        **({} if actor else {"actor_type": "system", "actor_label": "kefu quality plan"}),
    )  # fmt: skip
    return draft


def update_plan(
    session: Session, plan_id: int, actor: Principal, command: UpdatePlan | Mapping[str, Any]
) -> QualityPlan:
    """Edit the plan's notes."""
    cmd = ensure(UpdatePlan, command)
    plan = get_plan(session, plan_id, actor)
    plan.notes, plan.updated_at = cmd.notes.strip(), utcnow()
    session.flush()
    record(session, actor, "quality.plan_update", target_type="quality_plan", target_id=plan.id, brand_id=plan.brand_id)
    return plan


def _check_evidence(session: Session, brand_id: int, refs: Sequence[Evidence]) -> list[dict[str, Any]]:
    """Each reference must exist in the brand (a case by ticket id, a feedback item by its source)."""
    out: list[dict[str, Any]] = []
    for ref in refs:
        model = Ticket if ref.source == "case" else _source_model(ref.source)
        row = session.get(model, ref.id)
        if row is None or row.brand_id != brand_id:
            raise InvalidInput.said("err_quality_evidence_other_brand", source=ref.source, ref_id=ref.id)
        item = {"source": ref.source, "id": ref.id}
        if item not in out:
            out.append(item)
    return out


def _owner(session: Session, brand_id: int, owner_id: int | None) -> int | None:
    return None if owner_id is None else ensure_assignable(session, owner_id, brand_id).id


def add_item(
    session: Session, plan_id: int, actor: Principal, command: CreatePlanItem | Mapping[str, Any]
) -> QualityPlanItem:
    """Add an improvement item to a plan."""
    cmd = ensure(CreatePlanItem, command)
    plan = get_plan(session, plan_id, actor)
    brand = session.get(Brand, plan.brand_id)
    assert brand is not None
    if cmd.cause_key:
        _active_cause(session, actor, plan.brand_id, cmd.cause_key)
    item = QualityPlanItem(
        plan_id=plan.id, brand_id=plan.brand_id, title=cmd.title.strip(), cause_key=cmd.cause_key,
        evidence=_check_evidence(session, plan.brand_id, cmd.evidence),
        owner_id=_owner(session, plan.brand_id, cmd.owner_id),
        due_date=cmd.due_date or quarter(plan.quarter, brand.timezone).last_day, status="open",
        verification_note="", created_by=actor.agent_id,
    )  # fmt: skip
    session.add(item)
    session.flush()
    record(session, actor, "quality.item_create", target_type="quality_plan_item", target_id=item.id,
           brand_id=item.brand_id, details={"plan_id": plan.id, "cause": cmd.cause_key})  # fmt: skip
    return item


def get_item(session: Session, item_id: int, actor: Principal | None) -> QualityPlanItem:
    """One improvement item (404 across brands)."""
    return get_in_brand(session, QualityPlanItem, item_id, actor, "Plan item")


def update_item(
    session: Session, item_id: int, actor: Principal, command: UpdatePlanItem | Mapping[str, Any]
) -> QualityPlanItem:
    """Edit an item's title, cause, evidence, owner or due date (a closed item is final)."""
    cmd = ensure(UpdatePlanItem, command)
    item = get_item(session, item_id, actor)
    if item.status == "closed":
        raise Conflict.said("err_quality_item_closed")
    changes = changes_of(cmd)
    if changes.get("cause_key"):
        _active_cause(session, actor, item.brand_id, str(changes["cause_key"]))
    if "evidence" in changes:
        item.evidence = _check_evidence(session, item.brand_id, cmd.evidence or [])
    if "owner_id" in changes:
        item.owner_id = _owner(session, item.brand_id, cmd.owner_id)
    if "title" in changes:
        if cmd.title is None:
            raise InvalidInput.said("err_quality_title_empty")
        item.title = cmd.title.strip()
    if "cause_key" in changes:
        item.cause_key = cmd.cause_key
    if "due_date" in changes:
        if cmd.due_date is None:
            raise InvalidInput.said("err_quality_due_date_empty")
        item.due_date = cmd.due_date
    item.updated_at = utcnow()
    session.flush()
    record(session, actor, "quality.item_update", target_type="quality_plan_item", target_id=item.id,
           brand_id=item.brand_id, details={"fields": sorted(changes)})  # fmt: skip
    return item


def change_status(
    session: Session, item_id: int, actor: Principal, command: ChangeItemStatus | Mapping[str, Any]
) -> QualityPlanItem:
    """Move an item along open → in_progress → done → closed; closing needs a verification note."""
    cmd = ensure(ChangeItemStatus, command)
    item = get_item(session, item_id, actor)
    target, note = str(cmd.status), cmd.verification_note.strip()
    if target not in ITEM_MOVES[item.status]:
        raise Conflict.said("err_quality_bad_transition", status=item.status, target=target)
    if target == "closed" and not note:
        raise InvalidInput.said("err_quality_needs_verification")
    now = utcnow()
    before = item.status
    item.status = target
    if note:
        item.verification_note = note
    if target in ("done", "closed") and item.completed_at is None:
        item.completed_at = now
    if target in OPEN_ITEM_STATUSES:
        item.completed_at = None  # verification failed: back to work, the completion no longer stands
    if target == "closed":
        item.closed_at = now
    item.updated_at = now
    session.flush()
    record(session, actor, "quality.item_status", target_type="quality_plan_item", target_id=item.id,
           brand_id=item.brand_id, details={"from": before, "to": target})  # fmt: skip
    return item


def is_overdue(item: QualityPlanItem, today: date) -> bool:
    """Not done and past its (brand-local) due date."""
    return item.status in OPEN_ITEM_STATUSES and item.due_date < today


def on_time(item: QualityPlanItem, tz: str) -> bool:
    """Completed on or before its due date (brand-local)."""
    return item.completed_at is not None and item.completed_at.astimezone(zone(tz)).date() <= item.due_date


def overdue_items(
    session: Session, actor: Principal | None, *, brand_id: int | None = None, now: datetime | None = None
) -> list[tuple[QualityPlanItem, QualityPlan]]:
    """Open or in-progress items past their due date in each brand's timezone, most overdue first."""
    now = now or utcnow()
    base: Select[Any] = (
        select(QualityPlanItem, QualityPlan, Brand.timezone)  # type: ignore[assignment]
        .join(QualityPlan, QualityPlan.id == QualityPlanItem.plan_id)
        .join(Brand, Brand.id == QualityPlanItem.brand_id)
    )
    stmt = scope_to_brands(
        base,
        QualityPlanItem.brand_id,
        actor,
    ).where(
        QualityPlanItem.status.in_(OPEN_ITEM_STATUSES),
        QualityPlanItem.due_date < now.date() + timedelta(days=1),  # no zone is a day ahead of UTC + 1
    )
    if brand_id is not None:
        ensure_brand(actor, brand_id, "Brand")
        stmt = stmt.where(QualityPlanItem.brand_id == brand_id)
    rows = session.execute(stmt.order_by(QualityPlanItem.due_date, QualityPlanItem.id)).all()
    return [(i, p) for i, p, tz in rows if is_overdue(i, now.astimezone(zone(tz)).date())]


@dataclass(frozen=True)
class Progress:
    """A plan's items by status, completed on time, overdue."""

    total: int
    by_status: dict[str, int]
    completed: int
    on_time: int
    overdue: int

    @property
    def on_time_rate(self) -> float | None:
        """Items completed by their due date, as a share of all items."""
        return round(self.on_time / self.total, 4) if self.total else None


def progress(items: Sequence[QualityPlanItem], brand: Brand, now: datetime | None = None) -> Progress:
    """Figures over a plan's items."""
    today = brand_today(brand, now)
    by_status: dict[str, int] = {str(s): 0 for s in ItemStatus}
    for i in items:
        by_status[i.status] = by_status.get(i.status, 0) + 1
    return Progress(
        total=len(items),
        by_status={str(k): v for k, v in by_status.items()},
        completed=sum(1 for i in items if i.completed_at is not None),
        on_time=sum(1 for i in items if on_time(i, brand.timezone)),
        overdue=sum(1 for i in items if is_overdue(i, today)),
    )


@dataclass
class QuarterReport:
    """A quarter's plan, its progress, the attribution summary and the quality KPIs (kefu.analytics figures)."""

    brand: Brand
    quarter: Quarter
    plan: QualityPlan | None
    items: list[QualityPlanItem]
    progress: Progress
    summary: Summary
    kpis: dict[str, Any]


def quarter_report(
    session: Session, actor: Principal | None, brand_id: int, quarter_label: str | None = None
) -> QuarterReport:
    """Plan progress next to the quarter's CSAT, QA, complaint and regulator figures from the analytics service."""
    brand, q = _brand_quarter(session, actor, brand_id, quarter_label)
    plan = session.scalar(select(QualityPlan).where(QualityPlan.brand_id == brand.id, QualityPlan.quarter == q.label))
    items = plan_items(session, plan) if plan else []
    f = analytics.resolve_filters(session, actor, start=q.start, end=q.end, brand_id=brand.id)
    kpis = {
        "csat": analytics.csat(session, f),
        "qa": analytics.qa_correctness(session, f),
        "complaints": analytics.complaints(session, f),
        "regulator_on_time": analytics.regulator_on_time(session, f),
    }
    return QuarterReport(
        brand, q, plan, items, progress(items, brand), summary(session, actor, brand.id, q.label), kpis
    )


# ---------------------------------------------------------------- third-party sampling


def create_sample(session: Session, actor: Principal, command: CreateSample | Mapping[str, Any]) -> AuditSample:
    """Record ceil(rate × N) of the quarter's closed cases drawn with the seed (a new random seed when none given)."""
    cmd = ensure(CreateSample, command)
    brand, q = _brand_quarter(session, actor, cmd.brand_id, cmd.quarter)
    ids = list(
        session.scalars(
            select(Ticket.id)
            .where(
                Ticket.brand_id == brand.id,
                Ticket.status == "closed",
                Ticket.closed_at >= q.start,
                Ticket.closed_at < q.end,
            )
            .order_by(Ticket.id)
        )
    )
    seed = cmd.seed or secrets.token_hex(8)
    k = min(len(ids), math.ceil(cmd.rate * len(ids) - 1e-9)) if ids else 0
    picked = sorted(random.Random(f"{brand.id}:{q.label}:{seed}").sample(ids, k))
    row = AuditSample(
        brand_id=brand.id, quarter=q.label, rate=cmd.rate, seed=seed, population=len(ids), sampled=k,
        ticket_ids=picked, auditor=cmd.auditor.strip(), created_by=actor.agent_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    record(
        session, actor, "quality.sample_create", target_type="quality_audit_sample", target_id=row.id,
        brand_id=brand.id, details={"quarter": q.label, "rate": cmd.rate, "seed": seed, "population": len(ids),
                                    "sampled": k, "auditor": row.auditor},
    )  # fmt: skip
    return row


def get_sample(session: Session, sample_id: int, actor: Principal | None) -> AuditSample:
    """One sample (404 across brands)."""
    return get_in_brand(session, AuditSample, sample_id, actor, "Sample")


def list_samples(
    session: Session, actor: Principal | None, brand_id: int, quarter_label: str | None = None
) -> list[AuditSample]:
    """A brand's samples, newest first (optionally of one quarter)."""
    get_brand(session, brand_id, actor)
    stmt = select(AuditSample).where(AuditSample.brand_id == brand_id)
    if quarter_label:
        stmt = stmt.where(AuditSample.quarter == quarter(quarter_label, "UTC").label)
    return list(session.scalars(stmt.order_by(AuditSample.id.desc())))


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def export_rows(
    session: Session, sample: AuditSample, actor: Principal | None, fmt: str = "json"
) -> list[dict[str, Any]]:
    """The sample's cases for the auditor, personal data masked (whoever exports), the export audited."""
    ids = [int(i) for i in sample.ticket_ids]
    tickets = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id))) if ids else []
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({t.customer_id for t in tickets if t.customer_id}))
        )
    }
    surveys = {s.ticket_id: s for s in session.scalars(select(CsatSurvey).where(CsatSurvey.ticket_id.in_(ids)))}
    convs: dict[int, list[int]] = {}
    for cid, tid in session.execute(
        select(Conversation.id, Conversation.ticket_id).where(Conversation.ticket_id.in_(ids))
    ):
        if tid is not None:
            convs.setdefault(int(tid), []).append(int(cid))
    kinds = {**output_kinds(), **_EXPORT_KINDS}
    rows = []
    for t in tickets:
        cust = customers.get(t.customer_id) if t.customer_id else None
        survey = surveys.get(t.id)
        messages: list[Message] = (
            list(
                session.scalars(
                    select(Message)
                    .where(Message.conversation_id.in_(convs[t.id]), Message.is_note.is_(False))
                    .order_by(Message.id)
                    .limit(TRANSCRIPT_MESSAGES)
                )
            )
            if t.id in convs
            else []
        )
        raw = {
            "channel": str(t.channel), "category": t.category or "", "priority": str(t.priority),
            "status": str(t.status), "created_at": _iso(t.created_at), "first_response_at": _iso(t.first_response_at),
            "resolved_at": _iso(t.resolved_at), "closed_at": _iso(t.closed_at), "subject": t.subject,
            "description": t.description or "", "customer_name": (cust.name or "") if cust else "",
            "customer_email": (cust.email or "") if cust else "", "customer_phone": (cust.phone or "") if cust else "",
            "csat_rating": survey.rating if survey else None, "csat_comment": survey.comment if survey else "",
            "transcript": "\n".join(f"[{m.sender_type}] {m.body}" for m in messages),
        }  # fmt: skip
        rows.append({"case_number": t.number, **mask_json(raw, kinds)})
    record(
        session, actor, "quality.sample_export", target_type="quality_audit_sample", target_id=sample.id,
        brand_id=sample.brand_id, details={"format": fmt, "rows": len(rows), "quarter": sample.quarter},
    )  # fmt: skip
    return rows


def export_csv(session: Session, sample: AuditSample, actor: Principal | None) -> str:
    """The masked sample as CSV (formula-safe)."""
    rows = export_rows(session, sample, actor, "csv")
    out = io.StringIO()
    writer(out).writerows(dict_rows(EXPORT_COLUMNS, rows))
    return out.getvalue()


@dataclass
class ImportResult:
    """What a findings import stored and which lines it refused (with why)."""

    imported: int = 0
    attributed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_findings(
    session: Session, sample_id: int, actor: Principal, command: ImportFindings | Mapping[str, Any]
) -> ImportResult:
    """Store the auditor's findings (case number, score, finding[, cause]) for cases of the sample; audited.

    A finding scored below ``AUDIT_PASS_SCORE`` is negative feedback (source ``audit``); a cause column files it.
    """
    cmd = ensure(ImportFindings, command)
    sample = get_sample(session, sample_id, actor)
    in_sample = select(Ticket.number, Ticket.id).where(Ticket.id.in_([int(i) for i in sample.ticket_ids]))
    numbers = {str(n): int(i) for n, i in session.execute(in_sample)}
    existing = {
        f.ticket_id: f for f in session.scalars(select(AuditFinding).where(AuditFinding.sample_id == sample.id))
    }
    result = ImportResult()
    for line, cells in enumerate(reader(cmd.csv.lstrip("\ufeff")), start=1):
        cells = [restore_cell(c.strip()) for c in cells]
        if not any(cells):
            continue
        if line == 1 and len(cells) > 1 and not _is_number(cells[1]):
            continue  # a header row
        try:
            ticket_id, score, finding, cause = _finding_cells(cells, numbers)
            if cause:
                _active_cause(session, actor, sample.brand_id, cause)
        except InvalidInput as exc:
            result.errors.append({"line": line, "error": exc.detail})
            continue
        row = existing.get(ticket_id)
        if row is None:
            row = AuditFinding(sample_id=sample.id, brand_id=sample.brand_id, ticket_id=ticket_id)
            session.add(row)
            existing[ticket_id] = row
        row.score, row.finding, row.imported_by, row.created_at = score, finding, actor.agent_id, utcnow()
        session.flush()
        result.imported += 1
        if cause and score < AUDIT_PASS_SCORE:
            attribute(session, actor, AttributeFeedback(source=FeedbackSource.AUDIT, source_id=row.id, cause_key=cause))
            result.attributed += 1
    record(
        session, actor, "quality.findings_import", target_type="quality_audit_sample", target_id=sample.id,
        brand_id=sample.brand_id, details={"imported": result.imported, "refused": len(result.errors)},
    )  # fmt: skip
    return result


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _finding_cells(cells: list[str], numbers: Mapping[str, int]) -> tuple[int, float, str, str]:
    if len(cells) < 2:
        raise InvalidInput.said("err_quality_audit_line")
    number = cells[0]
    if number not in numbers:
        raise InvalidInput.said("err_quality_not_in_sample", number=number)
    if not _is_number(cells[1]) or not 0 <= float(cells[1]) <= 100:
        raise InvalidInput.said("err_quality_score_range", number=number)
    finding = cells[2] if len(cells) > 2 else ""
    cause = cells[3] if len(cells) > 3 else ""
    return numbers[number], float(cells[1]), finding[:5000], cause


def findings(session: Session, sample: AuditSample) -> list[tuple[AuditFinding, str]]:
    """A sample's imported findings with their case numbers."""
    return [
        (f, str(n))
        for f, n in session.execute(
            select(AuditFinding, Ticket.number)
            .join(Ticket, Ticket.id == AuditFinding.ticket_id)
            .where(AuditFinding.sample_id == sample.id)
            .order_by(AuditFinding.id)
        )
    ]


def agent_names(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    """Display names of the listed agents (owners on the console)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(wanted)))}


def owners(session: Session, brand_id: int) -> list[Agent]:
    """Who may own an item in the brand (the console's owner list)."""
    from kefu.auth.service import assignable_agents

    return assignable_agents(session, brand_id)
