"""Ticket creation and listing throughput through the real API stack (SQLite, and PostgreSQL when configured).

Usage: python benchmarks/api_tickets.py [--n 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]
Prints tickets/s for creation through HTTP (in-process ASGI client) and p50/p95 list latency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)


def run(url: str, n: int) -> None:
    """Create n tickets through the API and time list pages."""
    from fastapi.testclient import TestClient

    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.events import MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.web.app import create_app

    upgrade(url)
    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"bench-{uuid.uuid4().hex[:6]}", name="bench")
        agent = create_agent(
            s, email=f"b-{uuid.uuid4().hex[:6]}@example.com", name="b", password="bench password", role="admin"
        )
        _, raw = create_token(s, agent, name="bench", scopes=None, expires_at=None, actor=None)
        brand_id = brand.id
    app = create_app(Settings(database_url=url), database=database, bus=MemoryBus())
    h = {"Authorization": f"Bearer {raw}"}
    with TestClient(app) as client:
        t0 = time.perf_counter()
        for i in range(n):
            r = client.post("/api/v1/tickets", json={"brand_id": brand_id, "subject": f"工單 {i}"}, headers=h)
            assert r.status_code == 201, r.text
        dt = time.perf_counter() - t0
        lat = []
        cursor = None
        for _ in range(50):
            params: dict[str, object] = {"brand_id": brand_id, "limit": 50}
            if cursor:
                params["cursor"] = cursor
            s0 = time.perf_counter()
            page = client.get("/api/v1/tickets", params=params, headers=h).json()
            lat.append((time.perf_counter() - s0) * 1000)
            cursor = page["next_cursor"] or None
    lat.sort()
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: create {n / dt:,.0f} tickets/s (n={n}); list page p50 {statistics.median(lat):.1f} ms "
        f"p95 {lat[int(len(lat) * 0.95) - 1]:.1f} ms"
    )
    database.dispose()


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run(f"sqlite:///{d}/bench.db", args.n)
    if args.pg:
        import psycopg

        name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            run(args.pg.rsplit("/", 1)[0] + "/" + name, args.n)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
