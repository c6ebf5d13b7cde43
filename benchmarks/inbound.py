"""Inbound throughput through the LINE webhook: ack latency (persist + commit) and end-to-end processing rate.

Usage: python benchmarks/inbound.py [--n 1000] [--pg postgresql://postgres@127.0.0.1:5432/test]
Prints webhook acks/s with p50/p95 ack latency, and messages/s until every event is a timeline message.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import tempfile
import time
import uuid

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)
os.environ.setdefault("KEFU_CHANNELS_SWEEP_SECONDS", "1")


def _body(i: int) -> bytes:
    event = {
        "type": "message",
        "timestamp": 1_700_000_000_000 + i,
        "webhookEventId": f"BENCH{i:08d}",
        "source": {"type": "user", "userId": f"U{i % 200}"},
        "replyToken": f"rt{i}",
        "message": {"id": f"m{i}", "type": "text", "text": f"請問訂單 {i} 何時出貨？"},
    }
    return json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()


def run(url: str, n: int, data_dir: str) -> None:
    """Post n signed webhooks, then wait until all are processed."""
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from kefu.bootstrap import wire
    from kefu.brands.service import create_brand, create_inbox
    from kefu.channels.models import InboundEvent
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.events import MemoryBus
    from kefu.core.jobs import MemoryJobQueue
    from kefu.core.migrate import upgrade
    from kefu.web.app import create_app

    os.environ["KEFU_DATA_DIR"] = data_dir
    upgrade(url)
    database = Database(url)
    secret = "bench-secret"
    with database.session() as s:
        brand = create_brand(s, slug=f"bench-{uuid.uuid4().hex[:6]}", name="bench")
        inbox_id = create_inbox(s, brand, kind="line", name="LINE", config={"channel_secret": secret}, actor=None).id
    queue = MemoryJobQueue()
    wired = wire(Settings(database_url=url), database=database, bus=MemoryBus(), queue=queue)
    app = create_app(runtime=wired)
    bodies = [_body(i) for i in range(n)]
    sigs = [base64.b64encode(hmac.new(secret.encode(), b, hashlib.sha256).digest()).decode() for b in bodies]
    lat: list[float] = []
    with TestClient(app) as client:
        t0 = time.perf_counter()
        for body, sig in zip(bodies, sigs, strict=True):
            s0 = time.perf_counter()
            r = client.post(
                f"/api/v1/channels/line/{inbox_id}/webhook", content=body, headers={"X-Line-Signature": sig}
            )
            lat.append((time.perf_counter() - s0) * 1000)
            assert r.status_code == 200, r.text
        acked = time.perf_counter() - t0
        while True:
            with database.session() as s:
                pending = s.scalar(
                    select(func.count(InboundEvent.id)).where(
                        InboundEvent.inbox_id == inbox_id, InboundEvent.status == "pending"
                    )
                )
            if not pending:
                break
            time.sleep(0.05)
        total = time.perf_counter() - t0
    lat.sort()
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: webhook ack {n / acked:,.0f} msg/s, p50 {statistics.median(lat):.1f} ms, "
        f"p95 {lat[int(len(lat) * 0.95) - 1]:.1f} ms; end-to-end {n / total:,.0f} msg/s processed (n={n})"
    )
    database.dispose()


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run(f"sqlite:///{d}/bench.db", args.n, d)
    if args.pg:
        import psycopg

        name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            with tempfile.TemporaryDirectory() as d:
                run(args.pg.rsplit("/", 1)[0] + "/" + name, args.n, d)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
