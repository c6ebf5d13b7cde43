"""Dashboard query set over 1,000,000 tickets, straight from the rows and from the rollups (target: ≤ 300 ms).

Usage: python benchmarks/dashboard.py [--db pg|sqlite] [--pg postgresql://…/test] [--n 1000000] [--days 730]

PostgreSQL: bulk-generates (insert-from-select with generate_series, inside the database) N tickets spread over
`--days` days, with customers, conversations (N/5, each with a customer and a bot message), first-response SLA
targets for every ticket, CSAT surveys, complaints, regulator cases and QA reviews; VACUUM ANALYZEs.
SQLite: the same rows (tickets, customers, conversations, bot states, SLA targets, CSAT surveys, complaints,
regulator cases, QA reviews) through one `executemany` per table on a raw connection with synchronous off.

Then times `kefu.analytics.service.dashboard` (every metric) for several periods twice: before the rollups exist
(every metric from the rows) and after `kefu analytics rollup`'s backfill (timed too); prints both, per period,
plus the per-metric split of the 30-day view, best / median of `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def generate(conn: Any, n: int, days: int, brand_id: int, agents: list[int], orgs: list[int]) -> dict[str, int]:
    """Fill every table the dashboard reads, in SQL."""
    from sqlalchemy import text

    span = days * 86400
    p = {"n": n, "span": span, "base": BASE, "brand": brand_id, "agents": agents, "orgs": orgs}

    def run(sql: str) -> int:
        return int(conn.execute(text(sql), p).rowcount or 0)

    counts: dict[str, int] = {}
    counts["customers"] = run(
        """INSERT INTO customers (brand_id, name, cumulative_spend, tier, vip, attributes, created_at, updated_at,
                                  organization_id)
           SELECT :brand, 'c' || g, 0, 1, false, '{}', :base, :base,
                  CASE WHEN g % 10 = 0 THEN (:orgs)[1 + g % cardinality(:orgs)] END
           FROM generate_series(1, GREATEST(:n / 20, 1)) g"""
    )
    counts["tickets"] = run(
        """INSERT INTO tickets (brand_id, number, subject, description, status, priority, category, channel,
                                customer_id, organization_id, assignee_id, tags, custom_fields, created_at, updated_at,
                                first_response_at, resolved_at, reopen_count)
           SELECT :brand, 'BD-' || g, 'ticket ' || g, '',
                  CASE WHEN g % 20 = 0 THEN 'open' WHEN g % 3 = 0 THEN 'closed' ELSE 'resolved' END,
                  'normal',
                  (ARRAY['refund','payment_failure','logistics','account_anomaly','complaint','system_failure',
                         'invoice','membership','product','other','shipping','warranty'])[1 + g % 12],
                  (ARRAY['web_chat','email','line','messenger','board','phone'])[1 + (g * 7) % 6],
                  1 + g % GREATEST(:n / 20, 1),
                  CASE WHEN g % 10 = 0 THEN (:orgs)[1 + g % cardinality(:orgs)] END,
                  (:agents)[1 + g % cardinality(:agents)],
                  '[]', '{}', ts, ts,
                  ts + make_interval(secs => 30 + (g * 37) % 7200),
                  CASE WHEN g % 20 <> 0 THEN ts + make_interval(secs => 600 + (g::bigint * 7919) % 400000) END,
                  CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END
           FROM (SELECT g, :base - make_interval(secs => (g::float8 * :span / :n)) AS ts
                 FROM generate_series(1, :n) g) s"""
    )
    counts["conversations"] = run(
        """INSERT INTO conversations (brand_id, customer_id, channel, status, ticket_id, created_at, updated_at,
                                      last_message_at)
           SELECT :brand, 1 + g % GREATEST(:n / 20, 1),
                  (ARRAY['web_chat','line','messenger'])[1 + g % 3],
                  CASE WHEN g % 4 = 0 THEN 'open' ELSE 'closed' END,
                  CASE WHEN g % 4 = 0 THEN g END,
                  ts, ts + interval '20 minutes', ts + interval '20 minutes'
           FROM (SELECT g, :base - make_interval(secs => (g::float8 * :span / (:n / 5))) AS ts
                 FROM generate_series(1, :n / 5) g) s"""
    )
    counts["messages"] = run(
        """INSERT INTO messages (brand_id, conversation_id, channel, sender_type, is_note, body, content_type,
                                 attachments, meta, created_at)
           SELECT c.brand_id, c.id, c.channel, k.sender, false, 'm', 'text', '[]',
                  CASE WHEN k.sender = 'customer' THEN
                       jsonb_build_object('emotion', jsonb_build_object('anger', c.id % 5)) ELSE '{}' END,
                  c.created_at + k.off
           FROM conversations c
           CROSS JOIN (VALUES ('customer', interval '0'), ('bot', interval '1 minute')) k(sender, off)"""
    )
    counts["bot_states"] = run(
        """INSERT INTO bot_states (conversation_id, failures, clarify_options, max_anger, handed_off_at, updated_at)
           SELECT id, 0, '[]', 0, created_at + interval '5 minutes', created_at FROM conversations WHERE id % 4 = 0"""
    )
    counts["ticket_sla_targets"] = run(
        """INSERT INTO ticket_sla_targets (ticket_id, brand_id, key, kind, business, started_at, due_at, met_at,
                                           status, escalation_level)
           SELECT id, brand_id, 'first_response', 'first_response', false, created_at,
                  created_at + interval '1 hour', first_response_at,
                  CASE WHEN first_response_at <= created_at + interval '1 hour' THEN 'met' ELSE 'missed' END, 0
           FROM tickets"""
    )
    counts["csat_surveys"] = run(
        """INSERT INTO csat_surveys (brand_id, ticket_id, customer_id, organization_id, agent_id, channel, locale,
                                     resolved_at, sent_at, expires_at, rating, comment, answered_at)
           SELECT brand_id, id, customer_id, organization_id, assignee_id, channel, 'zh-TW', resolved_at,
                  resolved_at + interval '1 hour', resolved_at + interval '30 days',
                  CASE WHEN id % 3 = 0 THEN 1 + (id % 97) % 5 END, '',
                  CASE WHEN id % 3 = 0 THEN resolved_at + interval '5 hours' END
           FROM tickets WHERE resolved_at IS NOT NULL AND id % 5 = 0"""
    )
    counts["complaints"] = run(
        """INSERT INTO complaints (brand_id, ticket_id, level, status, complainant_name, complainant_contact, channel,
                                   product, order_number, description, requested_remedy, evidence, outcome,
                                   received_at, acknowledge_due_at, reply_due_at, closed_at, created_at, updated_at)
           SELECT brand_id, id, 'normal', 'closed', 'n', '', channel, '', '', 'd', '', '[]', '', created_at,
                  created_at + interval '1 day', created_at + interval '3 days',
                  created_at + make_interval(hours => (id % 48)::int), created_at, created_at
           FROM tickets WHERE id % 100 = 7"""
    )
    counts["regulator_cases"] = run(
        """INSERT INTO regulator_cases (brand_id, ticket_id, agency, reference_no, subject, summary, status,
                                        coordination_meeting, received_at, due_at, replied_at, created_at, updated_at)
           SELECT brand_id, id, '消保官', '', 's', '', 'replied', false, created_at, created_at + interval '15 days',
                  created_at + interval '10 days', created_at, created_at
           FROM tickets WHERE id % 1000 = 11"""
    )
    counts["qa_reviews"] = run(
        """INSERT INTO qa_reviews (brand_id, conversation_id, status, scores, total, passed, accuracy_passed, comment,
                                   created_at, reviewed_at)
           SELECT brand_id, id, 'done', '{}', 80 + id % 20, id % 7 <> 0, id % 50 <> 0, '', created_at,
                  created_at + interval '1 day'
           FROM conversations WHERE id % 20 = 0"""
    )
    return counts


def generate_sqlite(path: str, n: int, days: int, brand_id: int, agents: list[int], orgs: list[int]) -> dict[str, int]:
    """Tickets, SLA targets and CSAT surveys with the same shapes as `generate`, bulk-inserted on a raw connection."""
    import sqlite3

    cats = ["refund", "payment_failure", "logistics", "account_anomaly", "complaint", "system_failure", "invoice",
            "membership", "product", "other", "shipping", "warranty"]  # fmt: skip
    chans = ["web_chat", "email", "line", "messenger", "board", "phone"]
    span = days * 86400

    def iso(t: datetime) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")

    tickets, targets, surveys = [], [], []
    for g in range(1, n + 1):
        ts = BASE - timedelta(seconds=g * span / n)
        first = ts + timedelta(seconds=30 + (g * 37) % 7200)
        resolved = ts + timedelta(seconds=600 + (g * 7919) % 400000) if g % 20 else None
        status = "open" if g % 20 == 0 else "closed" if g % 3 == 0 else "resolved"
        org = orgs[g % len(orgs)] if g % 10 == 0 else None
        tickets.append(
            (g, brand_id, f"BD-{g}", f"ticket {g}", "", status, "normal", cats[g % 12], chans[(g * 7) % 6], org,
             agents[g % len(agents)], "[]", "{}", iso(ts), iso(ts), iso(first), resolved and iso(resolved),
             1 if g % 50 == 0 else 0)
        )  # fmt: skip
        due = ts + timedelta(hours=1)
        targets.append(
            (g, brand_id, "first_response", "first_response", 0, iso(ts), iso(due), iso(first),
             "met" if first <= due else "missed", 0)
        )  # fmt: skip
        if resolved is not None and g % 5 == 0:
            answered = g % 3 == 0
            surveys.append(
                (brand_id, g, org, agents[g % len(agents)], chans[(g * 7) % 6], "zh-TW", iso(resolved),
                 iso(resolved + timedelta(hours=1)), iso(resolved + timedelta(days=30)),
                 1 + (g % 97) % 5 if answered else None, "", iso(resolved + timedelta(hours=5)) if answered else None)
            )  # fmt: skip
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        with con:
            con.executemany(
                """INSERT INTO tickets (id, brand_id, number, subject, description, status, priority, category,
                   channel, organization_id, assignee_id, tags, custom_fields, created_at, updated_at,
                   first_response_at, resolved_at, reopen_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                tickets,
            )
            con.executemany(
                """INSERT INTO ticket_sla_targets (ticket_id, brand_id, key, kind, business, started_at, due_at,
                   met_at, status, escalation_level) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                targets,
            )
            con.executemany(
                """INSERT INTO csat_surveys (brand_id, ticket_id, organization_id, agent_id, channel, locale,
                   resolved_at, sent_at, expires_at, rating, comment, answered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
                surveys,
            )
            extra = _sqlite_conversations_and_cases(con, n, span, brand_id, tickets)
        con.execute("ANALYZE")
    finally:
        con.close()
    return {"tickets": len(tickets), "ticket_sla_targets": len(targets), "csat_surveys": len(surveys), **extra}


def _sqlite_conversations_and_cases(con: Any, n: int, span: int, brand_id: int, tickets: list[Any]) -> dict[str, int]:
    """Conversations (with a customer and a bot message), bot states, complaints, regulator cases and QA reviews."""

    def iso(t: datetime) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")

    def at(s: str) -> datetime:
        return datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)

    customers = max(n // 20, 1)
    con.executemany(
        """INSERT INTO customers (id, brand_id, name, cumulative_spend, tier, vip, attributes, created_at, updated_at)
           VALUES (?,?,?,0,1,0,'{}',?,?)""",
        [(g, brand_id, f"c{g}", iso(BASE), iso(BASE)) for g in range(1, customers + 1)],
    )
    convs, msgs, states, reviews = [], [], [], []
    chans = ["web_chat", "line", "messenger"]
    for g in range(1, n // 5 + 1):
        ts = BASE - timedelta(seconds=g * span / (n // 5))
        last = ts + timedelta(minutes=20)
        convs.append(
            (g, brand_id, 1 + g % customers, chans[g % 3], "open" if g % 4 == 0 else "closed",
             g if g % 4 == 0 else None, iso(ts), iso(last), iso(last))
        )  # fmt: skip
        msgs.append((brand_id, g, chans[g % 3], "customer", json.dumps({"emotion": {"anger": g % 5}}), iso(ts)))
        msgs.append((brand_id, g, chans[g % 3], "bot", "{}", iso(ts + timedelta(minutes=1))))
        if g % 4 == 0:
            states.append((g, iso(ts + timedelta(minutes=5)), iso(ts)))
        if g % 20 == 0:
            reviews.append(
                (brand_id, g, 80 + g % 20, int(g % 7 != 0), int(g % 50 != 0), iso(ts), iso(ts + timedelta(days=1)))
            )  # fmt: skip
    con.executemany(
        """INSERT INTO conversations (id, brand_id, customer_id, channel, status, ticket_id, created_at, updated_at,
           last_message_at) VALUES (?,?,?,?,?,?,?,?,?)""",
        convs,
    )
    con.executemany(
        """INSERT INTO messages (brand_id, conversation_id, channel, sender_type, is_note, body, content_type,
           attachments, meta, created_at) VALUES (?,?,?,?,0,'m','text','[]',?,?)""",
        msgs,
    )
    con.executemany(
        """INSERT INTO bot_states (conversation_id, failures, clarify_options, max_anger, handed_off_at, updated_at)
           VALUES (?,0,'[]',0,?,?)""",
        states,
    )
    con.executemany(
        """INSERT INTO qa_reviews (brand_id, conversation_id, status, scores, total, passed, accuracy_passed, comment,
           created_at, reviewed_at) VALUES (?,?,'done','{}',?,?,?,'',?,?)""",
        reviews,
    )
    complaints, cases = [], []
    for t in tickets:
        g, channel, created = t[0], t[8], at(t[13])
        if g % 100 == 7:
            complaints.append(
                (brand_id, g, channel, iso(created), iso(created + timedelta(days=1)), iso(created + timedelta(days=3)),
                 iso(created + timedelta(hours=g % 48)), iso(created), iso(created))
            )  # fmt: skip
        if g % 1000 == 11:
            cases.append(
                (brand_id, g, iso(created), iso(created + timedelta(days=15)), iso(created + timedelta(days=10)),
                 iso(created), iso(created))
            )  # fmt: skip
    con.executemany(
        """INSERT INTO complaints (brand_id, ticket_id, level, status, complainant_name, complainant_contact, channel,
           product, order_number, description, requested_remedy, evidence, outcome, received_at, acknowledge_due_at,
           reply_due_at, closed_at, created_at, updated_at)
           VALUES (?,?,'normal','closed','n','',?,'','','d','','[]','',?,?,?,?,?,?)""",
        complaints,
    )
    con.executemany(
        """INSERT INTO regulator_cases (brand_id, ticket_id, agency, reference_no, subject, summary, status,
           coordination_meeting, received_at, due_at, replied_at, created_at, updated_at)
           VALUES (?,?,'消保官','','s','','replied',0,?,?,?,?,?)""",
        cases,
    )
    return {"conversations": len(convs), "messages": len(msgs), "bot_states": len(states),
            "complaints": len(complaints), "regulator_cases": len(cases), "qa_reviews": len(reviews)}  # fmt: skip


PER_METRIC = (
    "volume_by_channel", "first_response", "resolution", "fcr", "sla_compliance", "csat", "bot_containment",
    "complaints", "regulator_on_time", "top_issues", "agent_performance", "backlog", "qa_correctness", "daily_volume",
)  # fmt: skip


def main() -> None:
    """Generate once, time the dashboard from the rows, back-fill the rollups, time it again."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("pg", "sqlite"), default="pg")
    ap.add_argument(
        "--pg", default=os.environ.get("KEFU_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--direct-runs", type=int, default=2, help="runs of the (slow) direct queries; 0: skip them")
    ap.add_argument("--no-vacuum", dest="vacuum", action="store_false", help="PostgreSQL: ANALYZE only after the load")
    ap.add_argument("--trace-ms", type=float, default=0, help="print every statement slower than this")
    ap.add_argument(
        "--keep",
        action="store_true",
        help="load into the --pg database itself (empty, e.g. from createdb) or --sqlite-path, and keep it",
    )
    ap.add_argument("--sqlite-path", help="SQLite file for --keep / --reuse (default: a temporary file)")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="time a database a --keep run loaded and rolled up (no load, no backfill): compare two checkouts "
        "on the same rows, alternating runs",
    )
    args = ap.parse_args()

    import tempfile

    import psycopg
    from sqlalchemy import text

    from kefu.analytics import service
    from kefu.auth.service import create_agent
    from kefu.brands.service import create_brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.customers.models import Organization

    runtime.current().provide(BUS, MemoryBus())
    name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
    tmp = tempfile.TemporaryDirectory()
    own = args.keep or args.reuse  # the caller's database: neither created nor dropped here
    if args.db == "pg" and own:
        url = args.pg
    elif args.db == "pg":
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + "/" + name
    else:
        path = args.sqlite_path if own and args.sqlite_path else f"{tmp.name}/dash.db"
        url = f"sqlite:///{path}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    print(f"code: {service.__file__}; database: {url}")
    db = None
    try:
        if args.reuse:
            db = Database(url)
            if args.trace_ms:
                _trace(db.engine, args.trace_ms)
            with db.session() as s:
                from sqlalchemy import select

                from kefu.brands.models import Brand

                brand_id = s.scalars(select(Brand.id).where(Brand.slug == "bench")).one()
                orgs = list(s.scalars(select(Organization.id).where(Organization.brand_id == brand_id)))
            _time_all(args, db, orgs, reuse=True)
            return
        upgrade(url)
        db = Database(url)
        if args.trace_ms:
            _trace(db.engine, args.trace_ms)
        with db.session() as s:
            brand = create_brand(s, slug="bench", name="Bench 品牌", ticket_prefix="BD")
            agents = [
                create_agent(s, email=f"a{i}@bench.local", name=f"客服 {i}", password=None, brand_ids=[brand.id]).id
                for i in range(20)
            ]
            orgs = []
            for i in range(3):
                o = Organization(brand_id=brand.id, name=f"法人客戶 {i}")
                s.add(o)
                s.flush()
                orgs.append(o.id)
            brand_id = brand.id
        t0 = time.perf_counter()
        if args.db == "pg":
            with db.engine.begin() as conn:
                counts = generate(conn, args.n, args.days, brand_id, agents, orgs)
            # VACUUM as autovacuum would after a bulk insert: it sets the visibility map, without which every
            # index-only count (the backlog) still visits the heap.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE" if args.vacuum else "ANALYZE"))
        else:
            counts = generate_sqlite(path, args.n, args.days, brand_id, agents, orgs)
        print(f"generated in {time.perf_counter() - t0:.1f} s: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
        _time_all(args, db, orgs, reuse=False)
    finally:
        if db is not None:
            db.dispose()
        if args.db == "pg" and not own:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tmp.cleanup()


def _time_all(args: Any, db: Any, orgs: list[int], *, reuse: bool) -> None:
    """Time every period from the rows (unless reusing), back-fill (unless reusing), time from the rollups."""
    from sqlalchemy import text

    from kefu.analytics import rollups, service, stats

    periods: list[tuple[str, dict[str, Any]]] = [
        ("today, Taipei (UTC+8)", {"start": BASE - timedelta(hours=8), "end": BASE}),
        ("last 7 days", {"start": BASE - timedelta(days=7), "end": BASE}),
        ("last 30 days", {"start": BASE - timedelta(days=30), "end": BASE}),
        ("last 30 days, Taipei days", {"start": BASE - timedelta(days=30, hours=8),
                                       "end": BASE - timedelta(hours=8)}),
        ("last 90 days", {"start": BASE - timedelta(days=90), "end": BASE}),
        ("last 365 days, ragged edges", {"start": BASE - timedelta(days=365, minutes=17),
                                         "end": BASE - timedelta(minutes=41)}),
        (f"all {args.days} days", {"start": BASE - timedelta(days=args.days + 1), "end": BASE}),
        ("last 7 days, one org (direct)", {"start": BASE - timedelta(days=7), "end": BASE,
                                           "organization_id": orgs[0]}),
    ]  # fmt: skip

    def timed(kw: dict[str, Any], runs: int, direct: bool = False) -> tuple[float, float, dict[str, Any]]:
        times: list[float] = []
        result: dict[str, Any] = {}
        with db.session() as s:
            if direct:
                _no_rollups(s)
            f = service.resolve_filters(s, None, now=BASE, **kw)
            for _ in range(runs):
                t = time.perf_counter()
                result = service.dashboard(s, f)
                times.append(time.perf_counter() - t)
        return min(times) * 1000, statistics.median(times) * 1000, result

    def per_metric(label: str, runs: int, days: int = 30) -> None:
        with db.session() as s:
            if label == "direct":
                _no_rollups(s)
            f = service.resolve_filters(s, None, now=BASE, start=BASE - timedelta(days=days), end=BASE)
            parts = []
            for fname in PER_METRIC:
                fn = getattr(service, fname)
                times = []
                for _ in range(max(runs, 1)):
                    t = time.perf_counter()
                    fn(s, f)
                    times.append(time.perf_counter() - t)
                parts.append(f"{fname} {min(times) * 1000:.0f}")
        print(f"  per metric, {days} days, {label} (ms, best of {max(runs, 1)}): " + ", ".join(parts))

    direct = {label: timed(kw, args.direct_runs, direct=True) for label, kw in periods} if args.direct_runs else {}
    if direct:
        per_metric("direct", args.direct_runs)
    if not reuse:
        t0 = time.perf_counter()
        with db.session() as s:
            r1 = rollups.backfill(s, None, BASE + timedelta(hours=1), commit=s.commit)
            r2 = stats.backfill(s, None, BASE + timedelta(hours=1), commit=s.commit)
        secs = time.perf_counter() - t0
        print(f"backfill: {secs:.1f} s ({r1.rows:,} volume rows, {r2.rows:,} hourly stat rows)")
        if args.db == "pg":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE analytics_ticket_stats"))
    rolled = {label: timed(kw, args.runs) for label, kw in periods}
    per_metric("rollups", args.runs)
    per_metric("rollups", args.runs, days=365)
    print(f"{'period':<32} {'direct best/median':>20} {'rollups best/median':>21}  same answer")
    for label, _ in periods:
        r = rolled[label]
        d = direct.get(label, (float("nan"), float("nan"), r[2]))
        same = _comparable(d[2]) == _comparable(r[2]) if label in direct else "-"
        print(f"{label:<32} {d[0]:8.0f} /{d[1]:7.0f} ms {r[0]:8.0f} /{r[1]:7.0f} ms  {same}")


def _no_rollups(session: Any) -> None:
    """Make this session's readers see no completeness mark, so every metric reads rows (also with --reuse)."""
    for name in ("ticket_hours", "ticket_stats"):
        session.info[("analytics.complete_until", name)] = None


def _trace(engine: Any, slower_than_ms: float) -> None:
    """Print statements slower than a threshold (where a period's time goes)."""
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _end(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        ms = (time.perf_counter() - conn.info.pop("t0", time.perf_counter())) * 1000
        if ms >= slower_than_ms:
            print(f"    [{ms:6.0f} ms] {' '.join(statement.split())[:300]}", file=sys.stderr)


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The dashboard without percentiles and means (histogram-bounded, see kefu.analytics.stats)."""
    out = dict(result)
    for key in ("first_response_time", "resolution_time"):
        out[key] = {k: v for k, v in result[key].items() if k not in ("p50", "p90", "avg")}
    out["agent_performance"] = [
        {k: v for k, v in a.items() if k not in ("avg_frt", "avg_resolution")} for a in result["agent_performance"]
    ]
    return out


if __name__ == "__main__":
    sys.exit(main())
