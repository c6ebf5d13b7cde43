"""Customer timeline query: its plan and time with and without a (conversation_id, created_at, id) messages index.

    PYTHONPATH=src python benchmarks/customer_timeline_plan.py [--pg postgresql://…/db] [--messages 5000]

One customer with `--conversations` conversations whose `--messages` messages interleave in time (ids are not time
order, as with mail fetched late), among other customers' traffic. For the first page and a deep page (the seek on
(created_at, id) from a cursor half-way down) it prints the plan and the median time of the statement
`kefu.conversations.service.customer_timeline` runs, then adds the index, ANALYZEs and measures again.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _bulk  # noqa: F401 - sets KEFU_ENV / KEFU_SECRET_KEY before kefu is imported
from sqlalchemy import event, insert, select, text

INDEX = "ix_messages_conversation_created_id"


def seed(url: str, conversations: int, messages: int, others: int) -> tuple[Any, int, int]:
    """The database with one customer's interleaved history; returns (engine, customer id, cursor message id)."""
    from kefu.brands.service import create_brand
    from kefu.conversations.models import Conversation, Message
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade
    from kefu.customers.models import Customer

    upgrade(url)
    database = Database(url)
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.session() as s:
        brand = create_brand(s, slug="plan", name="Plan")
        people = [Customer(brand_id=brand.id, name=f"c{i}") for i in range(others + 1)]
        s.add_all(people)
        s.flush()
        target = people[0]
        convs: list[tuple[int, int]] = []  # (conversation id, how many messages)
        for person in people:
            mine = person is target
            for _ in range(conversations if mine else 2):
                c = Conversation(brand_id=brand.id, customer_id=person.id, channel="line", subject="s")
                s.add(c)
                s.flush()
                convs.append((c.id, messages // conversations if mine else 30))
        rows = []
        for conv_id, n in convs:
            for _ in range(n):
                at = start + timedelta(seconds=rng.randrange(365 * 86400))
                rows.append(
                    {
                        "brand_id": brand.id,
                        "conversation_id": conv_id,
                        "channel": "line",
                        "sender_type": "customer",
                        "body": "x",
                        "created_at": at,
                    }
                )
        rng.shuffle(rows)  # insertion (id) order is not time order
        for i in range(0, len(rows), 2000):
            s.execute(insert(Message.__table__), rows[i : i + 2000])
        s.commit()
        ids = list(
            s.scalars(
                select(Message.id)
                .join(Conversation)
                .where(Conversation.customer_id == target.id)
                .order_by(Message.created_at.desc(), Message.id.desc())
            )
        )
        return database, target.id, ids[len(ids) // 2]


def statement(database: Any, customer_id: int, before_id: int | None) -> tuple[str, Any]:
    """The SQL and parameters customer_timeline runs (captured from the real call)."""
    from kefu.conversations.service import customer_timeline
    from kefu.customers.models import Customer

    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, sql: str, params: Any, *args: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    with database.session() as s:
        customer = s.get(Customer, customer_id)
        event.listen(database.engine, "before_cursor_execute", grab)
        seen.clear()
        try:
            customer_timeline(s, customer, before_id=before_id, limit=50, include_notes=False)
        finally:
            event.remove(database.engine, "before_cursor_execute", grab)
    return seen[-1]


def measure(database: Any, sql: str, params: Any, pg: bool, rounds: int = 40) -> tuple[str, float]:
    """(plan text, median ms) of one statement."""
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(("EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN ") + sql, params)
        plan = "\n".join(" ".join(str(c) for c in r) for r in cur.fetchall())
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            times.append((time.perf_counter() - t) * 1000)
        return plan, statistics.median(times)
    finally:
        raw.close()


def run(label: str, url: str, args: argparse.Namespace) -> None:
    """Measure one database before and after the index."""
    database, customer_id, cursor_id = seed(url, args.conversations, args.messages, args.others)
    pg = url.startswith("postgresql")
    pages = {"first page": None, "deep page": cursor_id}
    for phase in ("without", "with"):
        if phase == "with":
            with database.engine.begin() as conn:
                conn.execute(text(f"CREATE INDEX {INDEX} ON messages (conversation_id, created_at, id)"))
                conn.execute(text("ANALYZE"))
        else:  # migration 2821 builds it: measured without it first
            with database.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
                conn.execute(text("ANALYZE"))
        for page, before in pages.items():
            sql, params = statement(database, customer_id, before)
            plan, ms = measure(database, sql, params, pg)
            print(f"== {label} · {page} · {phase} index: median {ms:.2f} ms")
            print(plan)
    database.dispose()


def main() -> None:
    """Parse arguments and measure SQLite (and PostgreSQL with --pg)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default=None)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--others", type=int, default=300)
    args = parser.parse_args()
    from _bulk import each_database

    each_database(args.pg, lambda label, url: run(label, url, args))


if __name__ == "__main__":
    main()
