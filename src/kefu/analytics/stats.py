"""Statistic rollups for the dashboard's period metrics: durations, FCR, SLA, CSAT, top issues, agents, bot
containment, complaints, regulator cases and QA.

`analytics_ticket_stats` holds, per brand and block of hours, one row per (metric, key) with a count `n`, a sum
`total` and the smallest / largest value `lo` / `hi`. Blocks come in five sizes (`SPANS`: 1 hour, 1 UTC day, 8, 32
and 256 days, all aligned to the epoch); a period is read as the fewest aligned blocks that cover its whole hours,
plus rows derived directly from the source tables for the partial hours at its edges and for the hours after the
completeness mark. Rows are derived in Python from the same per-ticket values the direct queries use, so:

* counts, sums and means (resolution buckets, FCR, SLA met/decided, CSAT distribution and average, top issues,
  agent handled / averages / CSAT by answer time, bot containment, complaints received / closed in 24 h,
  regulator cases received / answered / on time, QA reviewed / passed / average) equal the direct query (means up
  to float summation order, far below their 0.1 s rounding);
* percentiles come from histograms: values below 100 s in 1-second bins, above in bins 1 % wide, each with its
  exact min and max. The nearest-rank value is interpolated inside its bin, so it is exact when it is a bin's
  first or last value (or the bin holds one value) and otherwise off by less than the bin width: < 1 s below
  100 s, < 1 % of the value above (tests/analytics/test_rollups.py asserts that bound).

Freshness: the job re-derives the last `RECHECK_HOURS` (8 days: the FCR reopen window is 7) plus every older hour
touched since its previous run (tickets whose `updated_at` moved, surveys answered, conversations or bot states
changed, conversations re-contacted within 72 h, complaints and regulator cases updated, hours whose QA review
count no longer matches the reviews: a re-score moves `reviewed_at`), so between
runs a dashboard can lag changes to old hours by at most one run (10 minutes). A reopen that clears a resolution
older than the recheck window is not seen (the old resolution hour is no longer known): `kefu analytics rollup
--since …` repairs any range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from kefu.analytics.metrics import BOT_RECONTACT_HOURS, COMPLAINT_CLOSURE_HOURS, FCR_REPLY_LIMIT, RESOLUTION_BUCKETS
from kefu.analytics.models import RollupState, TicketStatRollup
from kefu.analytics.rollups import (
    RollupResult,
    advance_mark,
    backfill_chunks,
    hour_of,
    read_mark,
    start_of,
    whole_hours,
)
from kefu.analytics.sql import seconds_between
from kefu.bot.models import BotState
from kefu.brands.models import Brand
from kefu.complaints.models import Complaint, RegulatorCase
from kefu.conversations.models import Conversation
from kefu.core.db import utcnow
from kefu.qa.models import QaReview
from kefu.sla.models import TicketSlaTarget
from kefu.surveys.models import CsatSurvey
from kefu.tickets.models import Ticket

NAME = "ticket_stats"
SPANS = (24 * 256, 24 * 32, 24 * 8, 24, 1)  # each a multiple of the next: blocks nest
BACKFILL_CHUNK = 24 * 32
RECHECK_HOURS = 8 * 24
SURVEY_WINDOW_DAYS = 31  # surveys expire 30 days after sending (kefu.surveys)
FINE_BELOW = 100.0
RATIO = 1.01
BASES = ("created", "resolved", "sent", "answered", "due", "conversation", "complaint", "regulator", "reviewed")
# metric → the time column (basis) its rows are keyed by
METRIC_BASIS = {
    "ch": "created",
    "frt": "created",
    "cat": "created",
    "res": "resolved",
    "rb": "resolved",
    "fcr": "resolved",
    "agent": "resolved",
    "agent_frt": "resolved",
    "csat": "sent",
    "agent_csat": "answered",  # per agent: surveys answered (n) and the sum of their ratings (total)
    "agent_rated": "answered",  # per agent: answered surveys with a rating (the average's denominator)
    "sla": "due",
    "bot": "conversation",  # bot-handled conversations by creation hour: handled (n), contained (total)
    "cmp": "complaint",  # complaints by receipt hour: received (n), closed within 24 h (total)
    # regulator cases by receipt hour: key "" received (n); "ans" answered (n), answered by the due date (total).
    # Unanswered cases past their due date also count as decided: readers count those directly (see
    # service.regulator_on_time), since that changes with the clock, not with the row.
    "reg": "regulator",
    # QA reviews by review hour: "" reviewed, "acc" accuracy passed, "pass" passed (n); "scored" the reviews with a
    # total (n) and their sum (total).
    "qa": "reviewed",
}
_SHAPE = ("tag", "brand", "at", "f1", "f2", "f3", "s1", "s2")  # the row of derive's single statement
_TAGS = ("created", "sent", "answered", "conversation", "complaint", "regulator", "reviewed", "due")
NONE_KEY = "~"  # the key of "no category" / "no rating" (category keys are slugs, ratings digits)


def bin_of(v: float) -> int:
    """Histogram bin of a duration: 1 s wide below FINE_BELOW seconds, RATIO wide above."""
    if v < FINE_BELOW:
        return math.floor(v)
    return int(FINE_BELOW) + math.floor(math.log(v / FINE_BELOW) / math.log(RATIO))


def bucket_of(v: float) -> str:
    """The resolution-time bucket (lower bound inclusive) of a duration, as the direct query's CASE."""
    for key, limit in RESOLUTION_BUCKETS:
        if limit is None or v < limit:
            return key
    return RESOLUTION_BUCKETS[-1][0]


@dataclass
class Acc:
    """Count, sum and range of the values of one (metric, key)."""

    n: int = 0
    total: float = 0.0
    lo: float | None = None
    hi: float | None = None

    def add(self, v: float | None, n: int = 1) -> None:
        """Count one value (or n without a value)."""
        self.n += n
        if v is not None:
            self.total += v
            self.lo = v if self.lo is None else min(self.lo, v)
            self.hi = v if self.hi is None else max(self.hi, v)

    def merge(self, n: int, total: float, lo: float | None, hi: float | None) -> None:
        """Fold in another accumulator's fields."""
        self.n += n
        self.total += total
        if lo is not None:
            self.lo = lo if self.lo is None else min(self.lo, lo)
        if hi is not None:
            self.hi = hi if self.hi is None else max(self.hi, hi)


Rows = dict[tuple[int, int, str, str], Acc]  # (brand, hour, metric, key)
Stats = dict[tuple[str, str], Acc]  # (metric, key), over the brands and period read


def _get(rows: Rows, brand: int, at: datetime, metric: str, key: str) -> Acc:
    k = (brand, hour_of(at), metric, key)
    acc = rows.get(k)
    if acc is None:
        acc = rows[k] = Acc()
    return acc


def derive(
    session: Session,
    ranges: list[tuple[datetime, datetime]],
    brand_ids: Iterable[int] | None = None,
    bases: Iterable[str] = BASES,
    now: datetime | None = None,
) -> Rows:
    """Rows for [a, b) ranges, straight from the source tables (what the job stores and readers add at edges)."""
    from kefu.analytics.service import Filters, agent_replies, reopened_soon

    out: Rows = {}
    if not ranges:
        return out
    brands = tuple(brand_ids) if brand_ids is not None else tuple(session.scalars(select(Brand.id)))
    if not brands:
        return out
    want = set(bases)
    frt = seconds_between(Ticket.created_at, Ticket.first_response_at)
    res = seconds_between(Ticket.created_at, Ticket.resolved_at)
    # Every basis but "resolved" in one statement: an arm per (basis, range), padded to one row shape (tag, brand,
    # time, three numbers, two strings), joined by UNION ALL. One round trip instead of one per basis (a dashboard's
    # edges touch them all); one arm per range, as SQLite turns an OR of ranges into a scan of the brands' rows.
    arms: list[Any] = []

    def arm(tag: str, brand: Any, at: Any, nums: tuple[Any, ...] = (), strs: tuple[Any, ...] = ()) -> Any:
        f = [cast(x, Float) if x is not None else cast(null(), Float) for x in (*nums, None, None, None)[:3]]
        t = [cast(x, String) if x is not None else cast(null(), String) for x in (*strs, None, None)[:2]]
        cols = [literal(_TAGS.index(tag)), brand, at, *f, *t]
        return select(*(col.label(name) for col, name in zip(cols, _SHAPE, strict=True)))

    for ra, rb in ranges:
        if "created" in want:
            arms.append(
                arm("created", Ticket.brand_id, Ticket.created_at, (frt,), (Ticket.category, Ticket.channel)).where(
                    Ticket.brand_id.in_(brands), Ticket.created_at >= ra, Ticket.created_at < rb
                )
            )
        if "sent" in want:
            arms.append(
                arm("sent", CsatSurvey.brand_id, CsatSurvey.sent_at, (CsatSurvey.rating,)).where(
                    CsatSurvey.brand_id.in_(brands), CsatSurvey.sent_at >= ra, CsatSurvey.sent_at < rb
                )
            )
        if "answered" in want:
            arms.append(
                arm(
                    "answered",
                    CsatSurvey.brand_id,
                    CsatSurvey.answered_at,
                    (CsatSurvey.rating,),
                    (CsatSurvey.agent_id,),
                ).where(
                    CsatSurvey.brand_id.in_(brands),
                    CsatSurvey.answered_at >= ra,
                    CsatSurvey.answered_at < rb,
                    CsatSurvey.agent_id.is_not(None),
                )
            )
        if "conversation" in want:
            from kefu.analytics.service import bot_rules

            bot_replied, contained = bot_rules()
            c = Conversation
            arms.append(
                arm("conversation", c.brand_id, c.created_at, (case((contained, 1), else_=0),))
                .select_from(c)
                .outerjoin(BotState, BotState.conversation_id == c.id)
                .where(c.brand_id.in_(brands), c.created_at >= ra, c.created_at < rb, bot_replied)
            )
        if "complaint" in want:
            closure = seconds_between(Complaint.received_at, Complaint.closed_at)
            arms.append(
                arm("complaint", Complaint.brand_id, Complaint.received_at, (closure,)).where(
                    Complaint.brand_id.in_(brands), Complaint.received_at >= ra, Complaint.received_at < rb
                )
            )
        if "regulator" in want:
            rc = RegulatorCase
            answered = func.coalesce(rc.replied_at, rc.closed_at)
            # 0 unanswered, 1 answered late, 2 answered by the due date (compared in SQL, as the direct query does)
            state = case((answered.is_(None), 0), (answered <= rc.due_at, 2), else_=1)
            arms.append(
                arm("regulator", rc.brand_id, rc.received_at, (state,)).where(
                    rc.brand_id.in_(brands), rc.received_at >= ra, rc.received_at < rb
                )
            )
        if "reviewed" in want:
            q = QaReview
            flags = (case((q.passed.is_(True), 1), else_=0), case((q.accuracy_passed.is_(True), 1), else_=0))
            arms.append(
                arm("reviewed", q.brand_id, q.reviewed_at, (q.total, *flags)).where(
                    q.brand_id.in_(brands), q.status == "done", q.reviewed_at >= ra, q.reviewed_at < rb
                )
            )
        if "due" in want:
            t = TicketSlaTarget
            decided_by = now or utcnow()
            met = case((and_(t.met_at.is_not(None), t.met_at <= t.due_at), 1), else_=0)
            arms.append(
                arm("due", t.brand_id, t.due_at, (met,), (t.kind,)).where(
                    t.brand_id.in_(brands),
                    t.due_at >= ra,
                    t.due_at < rb,
                    t.status != "paused",
                    or_(t.met_at.is_not(None), t.due_at <= decided_by),
                )
            )
    rows: Any = ()
    if arms:
        compound: Any = arms[0] if len(arms) == 1 else union_all(*arms)
        rows = session.execute(compound)
    for tag_i, b, at, f1, f2, f3, s1, s2 in rows:
        tag = _TAGS[int(tag_i)]
        if tag == "created":
            _get(out, b, at, "cat", NONE_KEY if s1 is None else str(s1)).add(None)
            _get(out, b, at, "ch", str(s2)).add(None)
            if f1 is not None:
                v = float(f1)
                _get(out, b, at, "frt", str(bin_of(v))).add(v)
        elif tag == "sent":
            _get(out, b, at, "csat", NONE_KEY if f1 is None else str(int(f1))).add(None)
        elif tag == "answered":
            agent = str(int(s1))
            _get(out, b, at, "agent_csat", agent).add(None if f1 is None else float(f1))
            if f1 is not None:
                _get(out, b, at, "agent_rated", agent).add(None)
        elif tag == "conversation":
            acc = _get(out, b, at, "bot", "")
            acc.n += 1
            acc.total += 1 if f1 else 0
        elif tag == "complaint":
            acc = _get(out, b, at, "cmp", "")
            acc.n += 1
            if f1 is not None and float(f1) <= COMPLAINT_CLOSURE_HOURS * 3600:
                acc.total += 1
        elif tag == "regulator":
            _get(out, b, at, "reg", "").add(None)
            if f1:
                _get(out, b, at, "reg", "ans").n += 1
                _get(out, b, at, "reg", "ans").total += 1 if f1 == 2 else 0
        elif tag == "reviewed":
            _get(out, b, at, "qa", "").add(None)
            if f3:
                _get(out, b, at, "qa", "acc").add(None)
            if f2:
                _get(out, b, at, "qa", "pass").add(None)
            if f1 is not None:
                _get(out, b, at, "qa", "scored").add(float(f1))
        else:  # due
            acc = _get(out, b, at, "sla", str(s1))
            acc.n += 1
            acc.total += 1 if f1 else 0
    if "resolved" in want:
        for r_start, r_end in ranges:  # the FCR reply counts are grouped per range (see service.agent_replies)
            msgs, updates = agent_replies(Filters(start=r_start, end=r_end, brand_ids=brands))
            replies = func.coalesce(msgs.c.n, 0) + func.coalesce(updates.c.n, 0)
            ok = case((and_(replies <= FCR_REPLY_LIMIT, or_(Ticket.reopen_count == 0, ~reopened_soon())), 1), else_=0)
            stmt = (
                select(Ticket.brand_id, Ticket.resolved_at, res, frt, Ticket.assignee_id, ok)
                .select_from(Ticket)
                .outerjoin(msgs, msgs.c.tid == Ticket.id)
                .outerjoin(updates, updates.c.tid == Ticket.id)
                .where(Ticket.brand_id.in_(brands), Ticket.resolved_at >= r_start, Ticket.resolved_at < r_end)
            )
            for br, at, r, f, agent, good in session.execute(stmt):
                r = float(r)
                _get(out, br, at, "res", str(bin_of(r))).add(r)
                _get(out, br, at, "rb", bucket_of(r)).add(r)
                if good:
                    _get(out, br, at, "fcr", "").add(None)
                if agent is not None:
                    _get(out, br, at, "agent", str(agent)).add(r)
                    if f is not None:
                        _get(out, br, at, "agent_frt", str(agent)).add(float(f))
    return out


# --------------------------------------------------------------------------- the job and the backfill


def complete_until(session: Session) -> int | None:
    """Hours before this one are rolled up (None: never rolled up)."""
    return read_mark(session, NAME)


def _store(session: Session, first: int, last: int, rows: Rows) -> None:
    # brand_id IN (every brand): the primary key starts with brand_id, so each brand's range is an index range.
    brands = tuple(session.scalars(select(Brand.id)))
    session.execute(
        delete(TicketStatRollup).where(
            TicketStatRollup.brand_id.in_(brands),
            TicketStatRollup.span == 1,
            TicketStatRollup.hour >= first,
            TicketStatRollup.hour < last,
        )
    )
    if rows:
        # Core executemany on the connection: the ORM's bulk insert went row by row here (17k statements / 5k
        # tickets).
        session.connection().execute(
            insert(TicketStatRollup),
            [
                {"brand_id": b, "span": 1, "hour": h, "metric": m, "key": k, "n": a.n, "total": a.total, "lo": a.lo,
                 "hi": a.hi}
                for (b, h, m, k), a in rows.items()
            ],
        )  # fmt: skip
    # Rebuild the blocks that overlap [first, last), each level from the one below it (so a 256-day block reads
    # at most eight 32-day rows per key, not every hour).
    s = TicketStatRollup
    ascending = SPANS[::-1]
    for below, span in itertools.pairwise(ascending):
        lo_block, hi_block = (first // span) * span, -(-last // span) * span
        session.execute(delete(s).where(s.brand_id.in_(brands), s.span == span, s.hour >= lo_block, s.hour < hi_block))
        block = (s.hour // span) * span  # floor division: `/` would be true division in SQLAlchemy 2
        grouped = (
            select(
                s.brand_id, literal(span), block, s.metric, s.key, func.sum(s.n), func.sum(s.total), func.min(s.lo),
                func.max(s.hi),
            )
            .where(s.brand_id.in_(brands), s.span == below, s.hour >= lo_block, s.hour < hi_block)
            .group_by(s.brand_id, block, s.metric, s.key)
        )  # fmt: skip
        cols = [s.brand_id, s.span, s.hour, s.metric, s.key, s.n, s.total, s.lo, s.hi]
        session.execute(insert(s).from_select(cols, grouped))


def rollup_hours(session: Session, first: int, last: int, *, dry_run: bool = False) -> RollupResult:
    """Re-derive hours [first, last) (delete + insert, idempotent) and the blocks that contain them."""
    if last <= first:
        return RollupResult()
    rows = derive(session, [(start_of(first), start_of(last))], now=start_of(last))
    result = RollupResult(
        hours=last - first,
        rows=len(rows),
        tickets=sum(a.n for (_, _, m, _), a in rows.items() if m == "cat"),
    )
    if not dry_run:
        _store(session, first, last, rows)
    return result


def _advance(session: Session, until: int) -> None:
    advance_mark(session, NAME, until, touch=True)  # refresh reads updated_at as "the previous run"


def backfill(
    session: Session,
    since: datetime | None,
    until: datetime | None = None,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int, RollupResult], None] | None = None,
    commit: Callable[[], None] | None = None,
) -> RollupResult:
    """Roll up [since, until) (default: the first ticket … the current hour) in 32-day chunks."""
    return backfill_chunks(
        session,
        since,
        until,
        roll=rollup_hours,
        mark=complete_until,
        advance=_advance,
        # chunk-aligned, so each block is rebuilt once
        chunk_end=lambda start: (start // BACKFILL_CHUNK + 1) * BACKFILL_CHUNK,
        dry_run=dry_run,
        progress=progress,
        commit=commit,
        oldest_row=_oldest_row,
    )


def _oldest_row(session: Session) -> datetime | None:
    """The earliest time any basis keys a row by: a regulator case or complaint can be received (and a
    conversation started) before the oldest ticket."""
    firsts = [
        session.scalar(select(func.min(col)))
        for col in (
            Ticket.created_at,
            Conversation.created_at,
            Complaint.received_at,
            RegulatorCase.received_at,
            QaReview.reviewed_at,
        )
    ]
    known = [t for t in firsts if t is not None]
    return min(known) if known else None


def _touched_hours(session: Session, since: datetime, before: int) -> set[int]:
    """Hours before `before` whose rows changed since `since` (tickets updated, surveys answered, targets met)."""
    hours: set[int] = set()
    brands = tuple(session.scalars(select(Brand.id)))
    if not brands:
        return hours
    for created, resolved in session.execute(
        select(Ticket.created_at, Ticket.resolved_at).where(Ticket.brand_id.in_(brands), Ticket.updated_at >= since)
    ):
        hours.add(hour_of(created))
        if resolved is not None:
            hours.add(hour_of(resolved))
    # Surveys answered since: only those sent within their 30-day answer window can be, found by (brand, sent_at).
    # SLA targets need no scan: a target whose due hour has passed is decided, and a late `met_at` cannot make
    # it on time.
    for sent, answered in session.execute(
        select(CsatSurvey.sent_at, CsatSurvey.answered_at).where(
            CsatSurvey.brand_id.in_(brands),
            CsatSurvey.sent_at >= since - timedelta(days=SURVEY_WINDOW_DAYS),
            CsatSurvey.answered_at >= since,
        )
    ):
        hours.add(hour_of(sent))
        if answered is not None:
            hours.add(hour_of(answered))
    # Bot containment of a conversation changes with the conversation (status, ticket, messages: its updated_at),
    # its bot state (hand-off) and a later conversation of the same customer within the re-contact window.
    c, later = Conversation, aliased(Conversation)
    for (created,) in session.execute(select(c.created_at).where(c.brand_id.in_(brands), c.updated_at >= since)):
        hours.add(hour_of(created))
    for (created,) in session.execute(
        select(c.created_at).join(BotState, BotState.conversation_id == c.id).where(BotState.updated_at >= since)
    ):
        hours.add(hour_of(created))
    for (created,) in session.execute(
        select(c.created_at)
        .join(later, and_(later.customer_id == c.customer_id, later.id != c.id, later.created_at > c.created_at))
        .where(
            later.brand_id.in_(brands),
            later.created_at >= since,
            seconds_between(c.last_message_at, later.created_at) <= BOT_RECONTACT_HOURS * 3600,
        )
    ):
        hours.add(hour_of(created))
    # Complaints and regulator cases change with their row (closed, replied, due date moved): their updated_at.
    for model in (Complaint, RegulatorCase):
        for (received,) in session.execute(
            select(model.received_at).where(model.brand_id.in_(brands), model.updated_at >= since)
        ):
            hours.add(hour_of(received))
    hours |= _moved_reviews(session, brands, before)
    return {h for h in hours if h < before}


def _moved_reviews(session: Session, brands: tuple[int, ...], before: int) -> set[int]:
    """Hours whose rolled-up QA review count differs from the reviews (a re-score moves `reviewed_at` to now).

    Reviews have no `updated_at` and a re-score does not say which hour it left, so the job compares counts,
    coarse blocks first and only the blocks that differ at finer spans: a few small reads when nothing moved.
    """
    actual: dict[int, int] = {}
    for (at,) in session.execute(
        select(QaReview.reviewed_at).where(
            QaReview.brand_id.in_(brands), QaReview.status == "done", QaReview.reviewed_at < start_of(before)
        )
    ):
        assert at is not None  # filtered above
        h = hour_of(at)
        actual[h] = actual.get(h, 0) + 1
    s = TicketStatRollup
    hours: set[int] = set()
    ranges = [(0, before)]
    for span in SPANS:

        def rolled(a: int, b: int, span: int = span) -> dict[int, int]:
            return {
                int(h): int(n)
                for h, n in session.execute(
                    select(s.hour, func.sum(s.n))
                    .where(
                        s.brand_id.in_(brands), s.span == span, s.hour >= a, s.hour < b, s.metric == "qa", s.key == ""
                    )
                    .group_by(s.hour)
                )
            }

        stored: dict[int, int] = {}
        for a, b in ranges:
            stored.update(rolled(a, b))
        counted: dict[int, int] = {}
        for h, n in actual.items():
            if any(a <= h < b for a, b in ranges):
                block = (h // span) * span
                counted[block] = counted.get(block, 0) + n
        differ = sorted(blk for blk in set(stored) | set(counted) if stored.get(blk, 0) != counted.get(blk, 0))
        if span == 1:
            hours.update(differ)
        ranges = [(blk, min(blk + span, before)) for blk in differ]
        if not ranges:
            break
    return hours


def refresh(session: Session, now: datetime | None = None) -> RollupResult:
    """The periodic job: re-derive the recent hours and the older hours touched since the previous run."""
    now = now or utcnow()
    now_hour = hour_of(now)
    state = session.get(RollupState, NAME)
    if state is None:
        return backfill(session, None)
    first = min(state.complete_until, now_hour) - RECHECK_HOURS
    done = RollupResult()
    runs: list[tuple[int, int]] = []
    for h in sorted(_touched_hours(session, state.updated_at - timedelta(minutes=5), first)):
        if runs and runs[-1][1] == h:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    runs.append((first, now_hour))
    for a, b in runs:
        r = rollup_hours(session, a, b)
        done.hours, done.rows, done.tickets = done.hours + r.hours, done.rows + r.rows, done.tickets + r.tickets
    _advance(session, now_hour)
    return done


# --------------------------------------------------------------------------- readers


def cover(first: int, last: int, spans: tuple[int, ...] = SPANS) -> list[tuple[int, int, int]]:
    """The fewest aligned blocks covering hours [first, last): (span, start hour, end hour) ranges."""
    if last <= first:
        return []
    span, rest = spans[0], spans[1:]
    a, b = -(-first // span) * span, (last // span) * span
    if not rest:
        return [(span, first, last)]
    if a >= b:
        return cover(first, last, rest)
    return [*cover(first, a, rest), (span, a, b), *cover(b, last, rest)]


def read(
    session: Session,
    brand_ids: Iterable[int],
    start: datetime,
    end: datetime,
    metrics: tuple[str, ...],
    now: datetime | None = None,
) -> Stats | None:
    """Merged (metric, key) stats for [start, end), or None when no whole hour is rolled up."""
    brands = tuple(brand_ids)
    until = complete_until(session)
    if until is None or not brands:
        return None
    if "sla" in metrics and now is not None:
        until = min(until, hour_of(now))  # an hour counts its targets as decided only once it has passed
    span = whole_hours(start, end, until)
    if span is None:
        return None
    first_full, last_full = span
    s = TicketStatRollup
    out: Stats = {}
    # One arm per block range, joined by UNION ALL into one statement (one round trip; the dashboard's cost on a
    # busy machine is mostly round trips): SQLite turns an OR of ranges into a scan of every row of the brand, but
    # plans each arm on its own primary-key range.
    arms = [
        select(s.metric, s.key, s.n, s.total, s.lo, s.hi).where(
            s.brand_id.in_(brands), s.span == span, s.hour >= a, s.hour < b, s.metric.in_(metrics)
        )
        for span, a, b in cover(first_full, last_full)
    ]
    u = (arms[0] if len(arms) == 1 else union_all(*arms)).subquery()
    for m, k, n, total, lo, hi in session.execute(
        select(u.c.metric, u.c.key, func.sum(u.c.n), func.sum(u.c.total), func.min(u.c.lo), func.max(u.c.hi)).group_by(
            u.c.metric, u.c.key
        )
    ):
        out.setdefault((str(m), str(k)), Acc()).merge(int(n), float(total or 0), lo, hi)
    edges = [(a, b) for a, b in ((start, start_of(first_full)), (start_of(last_full), end)) if a < b]
    bases = {METRIC_BASIS[m] for m in metrics}
    for (_, _, m, k), acc in derive(session, edges, brands, bases, now).items():
        if m in metrics:
            out.setdefault((m, k), Acc()).merge(acc.n, acc.total, acc.lo, acc.hi)
    return out


def count(stats: Stats, metric: str) -> tuple[int, float]:
    """Total count and sum of one metric over its keys."""
    n, total = 0, 0.0
    for (m, _), a in stats.items():
        if m == metric:
            n, total = n + a.n, total + a.total
    return n, total


def percentile(stats: Stats, metric: str, p: int) -> float | None:
    """Nearest-rank percentile from a histogram metric, interpolated inside its bin (see the module docstring)."""
    bins = sorted((int(k), a) for (m, k), a in stats.items() if m == metric and a.n)
    n = sum(a.n for _, a in bins)
    if not n:
        return None
    rank = -(-p * n // 100)  # ceil(p·n/100) in integers, as the direct query
    rank = max(rank, 1)
    seen = 0
    for _, a in bins:
        if seen + a.n >= rank:
            assert a.lo is not None and a.hi is not None
            if a.n == 1:
                return a.lo
            return a.lo + (a.hi - a.lo) * (rank - seen - 1) / (a.n - 1)
        seen += a.n
    return bins[-1][1].hi
