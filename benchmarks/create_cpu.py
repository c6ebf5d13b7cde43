"""CPU per ticket create through the whole HTTP stack, in-process (SQLite, and PostgreSQL when configured).

Usage: python benchmarks/create_cpu.py [--n 500] [--rounds 3] [--pg postgresql://...] [--profile out.txt] [--comment]
    [--asgi] [--key]

Drives POST /api/v1/tickets through the ASGI app with Starlette's TestClient and reads time.process_time() around
the loop, so the figure is server + client CPU of this one process (PostgreSQL backends are not included: see
vs_django_helpdesk.py for the sampled-backend figure). The client's share is measured separately on GET /healthz's
cheapest sibling (an unauthenticated 404 on /api/v1/…) and printed as the "floor"; "server CPU/op" is the
difference. Also prints the SQL statements per create. Medians over rounds (the machine is shared and noisy).
`--asgi` calls the app directly in one event loop (the request's thread-pool hop included), so the process's CPU
per create is the server's own: no client and no floor to subtract (uvicorn's HTTP parsing is not included);
on PostgreSQL it also prints its backends' CPU per create (/proc, read before and after each round).
Instructions per create (steady on a loaded machine, unlike CPU time):
    PYTHONHASHSEED=0 valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no \
        .venv/bin/python benchmarks/create_cpu.py --asgi --callgrind --n 40 --rounds 1
and add the `totals:` lines of the callgrind.out.PID-NN files (the event loop's thread and the worker's), / n.
PostgreSQL alone: add `--pg postgresql://… --pg-only` (its backend's instructions are not counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_django_helpdesk import _proc_stats

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)


def _setup(url: str) -> tuple[Any, Any, str, int]:
    """Migrate `url`, create a brand and an admin token; the database, the app, the raw token and the brand id."""
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
    return database, app, raw, brand_id


def run(
    url: str, n: int, rounds: int, profile: str | None, comment: bool = False, key: bool = False
) -> dict[str, float]:
    """Create n tickets per round; returns medians."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    database, app, raw, brand_id = _setup(url)
    h = {"Authorization": f"Bearer {raw}"}
    statements = [0]

    def _count(*_a: object) -> None:
        statements[0] += 1

    event.listen(database.engine, "before_cursor_execute", _count)
    cpu_ops, floor_ops, rates, queries = [], [], [], []
    with TestClient(app) as client:
        for i in range(50):  # warm caches and the pool
            client.post("/api/v1/tickets", json={"brand_id": brand_id, "subject": f"暖機 {i}"}, headers=h)
        for r in range(rounds):
            c0 = time.process_time()
            for _ in range(n):
                client.get("/api/v1/__floor__")
            floor_ops.append((time.process_time() - c0) / n * 1000)
            statements[0] = 0
            prof = None
            if profile and r == rounds - 1:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(n):
                resp = client.post(
                    "/api/v1/tickets",
                    json={
                        "brand_id": brand_id,
                        "subject": f"工單 {r}-{i}",
                        "description": "訂單還沒到，請幫忙查詢",
                        **({"comment": {"body": "已收到，我們會盡快回覆。"}} if comment else {}),
                    },
                    headers={**h, "Idempotency-Key": f"bench-{r}-{i}"} if key else h,
                )
                assert resp.status_code == 201, resp.text
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if prof is not None:
                prof.disable()
                import pstats

                with open(profile, "w") as f:
                    pstats.Stats(prof, stream=f).sort_stats("cumulative").print_stats(80)
            cpu_ops.append(cpu / n * 1000)
            rates.append(n / wall)
            queries.append(statements[0] / n)
    database.dispose()
    floor = statistics.median(floor_ops)
    cpu = statistics.median(cpu_ops)
    out = {
        "cpu_ms": cpu,
        "floor_ms": floor,
        "server_ms": cpu - floor,
        "per_s": statistics.median(rates),
        "queries": statistics.median(queries),
    }
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: create {out['per_s']:,.0f}/s (1 client, in-process); CPU/op {cpu:.2f} ms, client floor "
        f"{floor:.2f} ms → server CPU/op {out['server_ms']:.2f} ms; {out['queries']:.1f} SQL statements/create "
        f"(medians of {rounds} rounds × {n})"
    )
    return out


def _backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend of `database` (its title: "postgres: USER DATABASE HOST(PORT) …")."""
    return {
        pid: cpu
        for pid, (_, cpu, cmd) in _proc_stats().items()
        if cmd.startswith("postgres: ") and f" {database} " in cmd
    }


def run_asgi(url: str, n: int, rounds: int, comment: bool = False, callgrind: bool = False) -> dict[str, float]:
    """Create n tickets per round by calling the ASGI app directly (no HTTP client in the process): CPU = server's."""
    import asyncio
    import json
    import subprocess

    if callgrind:  # the request path only: no scheduler, no channel sweeps, no job runner polling during the loop
        os.environ["KEFU_SCHEDULER"] = "false"
        os.environ["KEFU_CHANNELS_SWEEP_SECONDS"] = "100000"

    database, app, raw, brand_id = _setup(url)
    auth = f"Bearer {raw}".encode()

    async def post(body: dict[str, object]) -> int:
        data = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/tickets",
            "raw_path": b"/api/v1/tickets",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"authorization", auth),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
        }
        messages = [{"type": "http.request", "body": data, "more_body": False}]
        status = [0]

        async def receive() -> dict[str, object]:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # the client never disconnects mid-request
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(str(message["status"]))

        await app(scope, receive, send)
        return status[0]

    def body(label: str) -> dict[str, object]:
        return {
            "brand_id": brand_id,
            "subject": f"工單 {label}",
            "description": "訂單還沒到，請幫忙查詢",
            **({"comment": {"body": "已收到，我們會盡快回覆。"}} if comment else {}),
        }

    # Not under callgrind: the /proc scan would be counted with the creates.
    pg_name = url.rsplit("/", 1)[1] if url.startswith("postgresql") and not callgrind else None
    pg_ops: list[float] = []

    async def main() -> tuple[list[float], list[float]]:
        cpu_ops, rates = [], []
        async with app.router.lifespan_context(app):
            for i in range(50):
                assert await post(body(f"warm {i}")) == 201
            if callgrind:
                from starlette.concurrency import run_in_threadpool

                from kefu.core.jobs import QUEUE

                await run_in_threadpool(app.state.runtime.get(QUEUE).stop)
                # Under valgrind on a loaded machine the measured loop outlasts the token cache's time-to-live (at
                # most 60 s): a miss in the middle would count a token lookup a normal-speed run does not make.
                from kefu.auth import tokencache

                for digest, (_deadline, expires_at, principal) in list(tokencache._store.items()):
                    tokencache._store[digest] = (float("inf"), expires_at, principal)
                # Blocking on purpose: the loop must not start before valgrind has switched counting on.
                subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=False)  # noqa: ASYNC221
            for r in range(rounds):
                # PostgreSQL: its backends' CPU too, read from /proc before and after the round (outside the
                # process's own measured CPU; the pool keeps its backends, so none exits unseen).
                before = _backends(pg_name) if pg_name else {}
                c0, w0 = time.process_time(), time.perf_counter()
                for i in range(n):
                    assert await post(body(f"{r}-{i}")) == 201
                cpu_ops.append((time.process_time() - c0) / n * 1000)
                rates.append(n / (time.perf_counter() - w0))
                if pg_name:
                    after = _backends(pg_name)
                    pg_ops.append(sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()) / n * 1000)
            if callgrind:
                subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=False)  # noqa: ASYNC221
        return cpu_ops, rates

    cpu_ops, rates = asyncio.run(main())
    database.dispose()
    out = {"server_ms": statistics.median(cpu_ops), "per_s": statistics.median(rates)}
    print(
        f"{url.split(':', 1)[0]}: create {out['per_s']:,.0f}/s (ASGI, no HTTP client in the process); server CPU/op "
        f"{out['server_ms']:.2f} ms (rounds {' / '.join(f'{c:.2f}' for c in cpu_ops)}; medians of {rounds} × {n})"
    )
    if pg_ops:
        out["pg_ms"] = statistics.median(pg_ops)
        print(
            f"  + PostgreSQL backend CPU/op {out['pg_ms']:.2f} ms (rounds {' / '.join(f'{c:.2f}' for c in pg_ops)}); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    return out


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG"))
    ap.add_argument("--profile", help="write a cProfile report (cumulative) of the last SQLite round here")
    ap.add_argument("--comment", action="store_true", help="create with a public first `comment` (ticket + message)")
    ap.add_argument(
        "--asgi",
        action="store_true",
        help="call the ASGI app directly: the process's CPU is the server's (no client floor to subtract)",
    )
    ap.add_argument("--key", action="store_true", help="send a fresh Idempotency-Key with every create")
    ap.add_argument("--pg-only", action="store_true", help="with --pg: skip the SQLite run (callgrind counts one)")
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="with --asgi under `valgrind --tool=callgrind --instr-atstart=no`: count only the measured creates, "
        "without the background threads (see docs/PERFORMANCE.md)",
    )
    args = ap.parse_args()

    def one(url: str, profile: str | None) -> None:
        if args.asgi:
            run_asgi(url, args.n, args.rounds, args.comment, args.callgrind)
        else:
            run(url, args.n, args.rounds, profile, args.comment, args.key)

    if not (args.pg and args.pg_only):
        with tempfile.TemporaryDirectory() as d:
            one(f"sqlite:///{d}/bench.db", args.profile)
    if args.pg:
        import psycopg

        name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            one(args.pg.rsplit("/", 1)[0] + "/" + name, None)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
