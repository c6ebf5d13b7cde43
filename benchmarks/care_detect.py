"""One care detection pass over a day of chat traffic: N customers, M messages each in the last 24 hours.

Usage: python benchmarks/care_detect.py [--customers 2000] [--messages 10] [--pg postgresql://postgres@127.0.0.1:5432/test]
Every customer has one conversation; a fifth of them get bot answers from a billing FAQ three times (topic rule), a
tenth two bot fallbacks (bot rule), the rest ordinary questions and answers. Prints rows generated, the first pass
(which raises the opportunities and their alerts) and a second pass (nothing new: the idempotent steady state).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import each_database


def run(label: str, url: str, customers: int, messages: int) -> None:
    """Generate a day of traffic, then run detection twice."""
    from sqlalchemy import insert, select

    from kefu.brands.service import create_brand
    from kefu.care.service import detect
    from kefu.conversations.models import Conversation, Message
    from kefu.core import runtime
    from kefu.core.db import Database, utcnow
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.customers.models import Customer
    from kefu.knowledge.models import FaqEntry

    runtime.current().provide(BUS, MemoryBus())
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        brand = create_brand(s, slug="bench", name="bench", ticket_prefix="BM")
        faq = FaqEntry(brand_id=brand.id, locale="zh-TW", questions=["帳單"], answer="會員中心", category="billing")
        s.add(faq)
        s.flush()
        brand_id, faq_id = brand.id, faq.id
    now = utcnow()
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(insert(Customer), [{"brand_id": brand_id, "name": f"客戶{i}"} for i in range(customers)])
        cids = list(conn.scalars(select(Customer.id).where(Customer.brand_id == brand_id).order_by(Customer.id)))
        conn.execute(
            insert(Conversation),
            [{"brand_id": brand_id, "customer_id": c, "channel": "api", "status": "bot"} for c in cids],
        )
        convs = list(conn.execute(select(Conversation.id, Conversation.customer_id).order_by(Conversation.id)))
        rows: list[dict[str, Any]] = []
        for n, (conv_id, _cid) in enumerate(convs):
            for k in range(messages):
                at = now - timedelta(hours=23, minutes=-k)
                meta: dict[str, Any] = {}
                sender = "customer" if k % 2 == 0 else "bot"
                if sender == "bot" and n % 5 == 0 and k < 6:
                    meta = {"faq_id": faq_id}
                elif sender == "bot" and n % 10 == 1 and k < 4:
                    meta = {"fallback": True}
                body = f"問題 {n}-{k}" if sender == "customer" else "回覆"
                rows.append({"brand_id": brand_id, "conversation_id": conv_id, "channel": "api",
                             "sender_type": sender, "body": body, "meta": meta, "created_at": at})  # fmt: skip
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Message), rows[i : i + 5000])
    gen = time.perf_counter() - t0
    for attempt in ("first", "second"):
        t1 = time.perf_counter()
        with db.session() as s:
            result = detect(s)
        took = time.perf_counter() - t1
        print(f"{label}: {len(rows):,} messages ({gen:.1f} s to generate); {attempt} pass {took * 1000:.0f} ms, "
              f"raised {dict(result.raised)}")  # fmt: skip


def main() -> None:
    """Parse arguments and run on each database."""
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    a = p.parse_args()
    each_database(a.pg, lambda label, url: run(label, url, a.customers, a.messages))


if __name__ == "__main__":
    main()
