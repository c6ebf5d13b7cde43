"""CPU per chat message through the whole HTTP stack, in-process: the agent's reply and the visitor's message.

Usage: python benchmarks/reply_cpu.py [--n 300] [--rounds 3] [--pg postgresql://...] [--redis redis://...]
           [--profile out.txt]

The two halves of `ws_chats.py` without sockets or a second process: POST /api/v1/conversations/{id}/messages
(agent → visitor) and POST /api/v1/widget/messages (visitor → agent), each through the ASGI app with Starlette's
TestClient, on a web-chat conversation per visitor (`--chats`, the replies go round them). Reads
time.process_time() around each loop, so the figure is this process's CPU (server + client; PostgreSQL backends
and Redis not included); the client's share is measured on an unauthenticated 404 and printed as the "floor".
Prints SQL statements per message and thread-pool hops per request. Medians over rounds (the machine is shared).
With --redis the bus is Redis pub/sub (the publish is part of the reply), else the in-process bus.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)


def run(
    url: str, n: int, rounds: int, chats: int, redis_url: str | None, profile: str | None, only: str | None = None
) -> None:
    """n agent replies and n visitor messages per round; prints medians."""
    import anyio.to_thread
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand, create_inbox
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.events import Bus, MemoryBus, RedisBus
    from kefu.core.migrate import upgrade
    from kefu.web.app import create_app

    upgrade(url)
    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"bench-{uuid.uuid4().hex[:6]}", name="bench")
        inbox = create_inbox(s, brand, kind="web_chat", name="chat", config={}, actor=None)
        agent = create_agent(
            s, email=f"b-{uuid.uuid4().hex[:6]}@example.com", name="b", password="bench password", role="agent",
            brand_ids=[brand.id],
        )  # fmt: skip
        _, raw = create_token(s, agent, name="bench", scopes=None, expires_at=None, actor=None)
        inbox_id = inbox.id
    bus: Bus = RedisBus(redis_url, f"replycpu-{uuid.uuid4().hex[:6]}") if redis_url else MemoryBus()
    # Every visitor comes from this one client address: exempt it from the public routes' per-address limits.
    settings = Settings(database_url=url, scheduler=False, rate_limit_exempt_networks=["127.0.0.1/32"])
    app = create_app(settings, database=database, bus=bus)
    h = {"Authorization": f"Bearer {raw}"}
    statements = [0]
    hops = [0]

    def _count(*_a: object) -> None:
        statements[0] += 1

    event.listen(database.engine, "before_cursor_execute", _count)
    real_run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(*a: Any, **kw: Any) -> Any:
        hops[0] += 1
        return await real_run_sync(*a, **kw)

    anyio.to_thread.run_sync = counting_run_sync  # type: ignore[assignment]
    results: dict[str, list[tuple[float, float, float, float]]] = {"agent reply": [], "visitor message": []}
    floors: list[float] = []
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        visitors: list[tuple[str, int]] = []
        for i in range(chats):
            token = client.post("/api/v1/widget/session", json={"inbox_id": inbox_id}).json()["visitor_token"]
            vh = {"X-Kefu-Visitor": token}
            first = client.post("/api/v1/widget/messages", json={"body": f"在嗎 {i}"}, headers=vh)
            assert first.status_code == 201, first.text
            visitors.append((token, first.json()["conversation_id"]))

        def agent_reply(i: int) -> Any:
            _, conv_id = visitors[i % chats]
            return client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": f"您好 {i}"}, headers=h)

        def visitor_message(i: int) -> Any:
            token, _ = visitors[i % chats]
            return client.post("/api/v1/widget/messages", json={"body": f"謝謝 {i}"}, headers={"X-Kefu-Visitor": token})

        for i in range(30):  # warm caches and the pool
            agent_reply(i)
            visitor_message(i)
        for r in range(rounds):
            c0 = time.process_time()
            for _ in range(n):
                client.get("/api/v1/__floor__")
            floors.append((time.process_time() - c0) / n * 1000)
            for name, call in (("agent reply", agent_reply), ("visitor message", visitor_message)):
                if only and not name.startswith(only):
                    continue
                statements[0] = hops[0] = 0
                profiling = bool(profile) and r == rounds - 1
                if profiling:
                    import yappi  # CPU time of every thread: the endpoint runs in the thread pool

                    yappi.clear_stats()
                    yappi.set_clock_type("cpu")
                    yappi.start()
                c0, w0 = time.process_time(), time.perf_counter()
                for i in range(n):
                    resp = call(i)
                    assert resp.status_code == 201, resp.text
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                if profiling:
                    yappi.stop()
                    with open(f"{profile}.{name.replace(' ', '_')}", "w") as f:
                        stats = yappi.get_func_stats()
                        stats.sort("ttot", "desc")
                        stats.print_all(
                            out=f, columns={0: ("name", 100), 1: ("ncall", 8), 2: ("tsub", 8), 3: ("ttot", 8)}
                        )
                results[name].append((cpu / n * 1000, n / wall, statements[0] / n, hops[0] / n))
    anyio.to_thread.run_sync = real_run_sync  # type: ignore[assignment]
    bus.stop()
    database.dispose()
    floor = statistics.median(floors)
    backend = url.split(":", 1)[0] + ("+redis" if redis_url else "")
    for name, rows in results.items():
        if not rows:
            continue
        cpu = statistics.median(r[0] for r in rows)
        print(
            f"{backend} {name}: CPU/op {cpu:.2f} ms, client floor {floor:.2f} ms → server CPU/op {cpu - floor:.2f} ms;"
            f" {statistics.median(r[2] for r in rows):.1f} SQL statements, "
            f"{statistics.median(r[3] for r in rows):.1f} thread-pool hops; {statistics.median(r[1] for r in rows):.0f}"
            f"/s one client (medians of {rounds} rounds × {n})"
        )


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chats", type=int, default=20)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    ap.add_argument("--redis", default=os.environ.get("KEFU_BENCH_REDIS"))
    ap.add_argument("--sqlite", action="store_true", help="also run on SQLite (the in-process bus)")
    ap.add_argument("--only", choices=["agent", "visitor"], help="measure one direction")
    ap.add_argument("--profile", help="yappi CPU profile (all threads) of the last round to PROFILE.<direction>")
    args = ap.parse_args()
    if args.sqlite or not args.pg:
        with tempfile.TemporaryDirectory() as d:
            run(f"sqlite:///{d}/bench.db", args.n, args.rounds, args.chats, None, args.profile, args.only)
    if args.pg:
        import psycopg

        name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            pg_url = args.pg.rsplit("/", 1)[0] + "/" + name
            run(pg_url, args.n, args.rounds, args.chats, args.redis, args.profile, args.only)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
