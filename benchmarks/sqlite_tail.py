"""SQLite tail latency with many clients, in-process threads and through `kefu serve --workers 2`, before vs after.

Usage: python benchmarks/sqlite_tail.py [--mode threads|http|both] [--clients 8,32] [--seconds 8] [--rounds 3]
       [--write-share 0.2] [--think-ms 200] [--baseline-src DIR] [--trace]

threads: one process, N client threads; each loops with a random think time: with probability `write-share` it
creates a ticket (a writer session), otherwise it lists 50 tickets (a read session, Database.read_sessionmaker).
http: `kefu serve --workers 2` on a SQLite file and N concurrent keep-alive connections (httpx): creates (POST),
lists (GET ?limit=50) and ticket details (GET /tickets/{id}) in the ratio write-share : rest/2 : rest/2.
Every round starts from a copy of the same seeded database file (500 tickets) and runs in a fresh process.

--baseline-src DIR (e.g. the `src` of `git archive main src`): the code compared against, put first on PYTHONPATH;
rounds alternate which code goes first (the machine is noisy). Printed per code, clients and operation: the
medians over rounds of p50/p95/p99 and ops/s, CPU per operation (threads: the process; http: the server's process
tree sampled from /proc) and the errors ("database is locked" counted apart).

--trace (http): the servers load benchmarks/tail_trace/sitecustomize.py, and each round prints where the time went
inside them during the measured seconds: requests' time in the app, SQLite write turns by holder (requests, job
runners, scheduler, channel sweep: count, wait, hold, the holder's CPU), garbage collections, event-loop lag and WAL
checkpoints. A watchdog thread samples the event loop's thread while its 5 ms heartbeat is over 20 ms late; the
round's three longest stalls are printed with the stacks sampled (a loop thread in C code, e.g. uvloop waiting for
the GIL, shows only its outermost Python frame). KEEP_TRACE=DIR keeps the raw trace files. The probes cost CPU
too: compare traced rounds with traced rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)
sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
OPS = ("create", "list", "detail")


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def _summary(lat: dict[str, list[float]], errors: list[str], seconds: float, cpu_s: float) -> dict[str, Any]:
    everything = [x for v in lat.values() for x in v]
    out: dict[str, Any] = {
        "ops": len(everything) / seconds,
        "cpu_ms": 1000 * cpu_s / max(1, len(everything)),
        "errors": len(errors),
        "locked": sum("locked" in e for e in errors),
        "first_error": errors[0] if errors else "",
    }
    for op, values in [*lat.items(), ("all", everything)]:
        for p in (50, 95, 99):
            out[f"{op}_p{p}"] = _pct(values, p / 100)
    return out


# ---- seeding (parent process, current code) ----


def seed(path: Path) -> dict[str, Any]:
    """A migrated SQLite file with a brand, an admin token and 500 tickets; checkpointed so a file copy is whole."""
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.tickets.service import create_ticket

    runtime.current().provide(BUS, MemoryBus())
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    with database.session() as s:
        brand_id = create_brand(s, slug="tail", name="tail").id
        agent = create_agent(s, email="tail@example.com", name="t", password="tail password 1", role="admin")
        _, token = create_token(s, agent, name="tail", scopes=None, expires_at=None, actor=None)
        ids = [create_ticket(s, brand_id=brand_id, subject=f"工單 {i}", actor=None).id for i in range(500)]
    database.dispose()
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"brand_id": brand_id, "token": token, "ticket_ids": ids}


def fresh_copy(template: Path, work: Path) -> Path:
    """A copy of the seeded file (and no WAL) for one round."""
    target = work / f"round-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, target)
    return target


# ---- threads mode (child process, code chosen by PYTHONPATH) ----


def threads_child(args: argparse.Namespace) -> None:
    """Run one in-process round and print its summary as JSON."""
    from kefu.auth.permissions import Principal
    from kefu.core import runtime
    from kefu.core.db import Database, session_scope
    from kefu.core.events import BUS, MemoryBus
    from kefu.tickets.service import create_ticket, list_tickets

    runtime.current().provide(BUS, MemoryBus())
    system = Principal(
        agent_id=0,
        email="",
        name="",
        role="admin",
        permissions=frozenset(),
        brand_ids=None,
        via="token",
        credential_id=0,
    )
    database = Database(args.url)
    brand_id = args.brand_id
    lat: dict[str, list[float]] = {"create": [], "list": []}
    errors: list[str] = []
    lock = threading.Lock()
    think = args.think_ms / 1000
    start_gate = threading.Barrier(args.clients + 1)
    stop = [0.0]

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        mine: dict[str, list[float]] = {"create": [], "list": []}
        start_gate.wait()
        while time.perf_counter() < stop[0]:
            t0 = time.perf_counter()
            op = "create" if rnd.random() < args.write_share else "list"
            try:
                if op == "create":
                    with session_scope(database.sessionmaker) as s:
                        create_ticket(s, brand_id=brand_id, subject="負載測試", actor=None)
                else:
                    with session_scope(database.read_sessionmaker) as s:
                        list_tickets(s, system, brand_id=brand_id, limit=50)
                mine[op].append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # report, keep going
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            time.sleep(rnd.uniform(0, 2 * think))  # think time: a saturated CPU would measure only its own queue
        with lock:
            for k, v in mine.items():
                lat[k].extend(v)

    for _ in range(5):  # warm up: statement caches, configuration caches, the pool
        with session_scope(database.sessionmaker) as s:
            create_ticket(s, brand_id=brand_id, subject="預熱", actor=None)
        with session_scope(database.read_sessionmaker) as s:
            list_tickets(s, system, brand_id=brand_id, limit=50)
    gate = _gate(database)
    if gate is not None:  # count the measured writers only (the first, cold ones hold it for 100s of ms)
        gate.acquired, gate.wait_seconds, gate.hold_seconds = 0, 0.0, 0.0
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for th in threads:
        th.start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    stop[0] = time.perf_counter() + args.seconds
    start_gate.wait()
    for th in threads:
        th.join()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out = _summary(lat, errors, args.seconds, cpu)
    if gate is not None and gate.acquired:  # this code only: mean wait for a turn and mean time holding it
        out["gate_wait_ms"] = 1000 * gate.wait_seconds / gate.acquired
        out["gate_hold_ms"] = 1000 * gate.hold_seconds / gate.acquired
    database.dispose()
    print(json.dumps(out))


def _gate(database: Any) -> Any:
    try:
        from kefu.core.db import writer_gate  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # the baseline code has none
        return None
    return writer_gate(database.engine)


def _env(src: Path | None, url: str | None = None, trace: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update({"KEFU_ENV": "test", "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"], "KEFU_LOG_LEVEL": "WARNING"})
    if url:
        env["KEFU_DATABASE_URL"] = url
    env["PYTHONPATH"] = str(src) if src else str(ROOT / "src")
    if trace is not None:
        env["PYTHONPATH"] += os.pathsep + str(ROOT / "benchmarks" / "tail_trace")
        env["KEFU_TRACE_DIR"] = str(trace)
    return env


def trace_summary(trace: Path, start: float, end: float) -> list[str]:
    """What the servers' probes saw between `start` and `end` (perf_counter is system-wide on Linux)."""
    rows = []
    for f in trace.glob("trace-*.jsonl"):
        rows += [json.loads(line) for line in f.read_text().splitlines()]
    req = [(r[4] - r[3]) * 1000 for r in rows if r[0] == "req" and r[2].startswith("/api") and start <= r[3] <= end]
    out = [f"    in the app: {len(req)} requests p50 {_pct(req, 0.5):.1f}  p99 {_pct(req, 0.99):.1f} ms"]
    kinds: dict[str, list[Any]] = {}
    for r in rows:
        if r[0] == "gate" and start <= r[2] <= end:
            name = r[6]
            kind = "request" if "AnyIO" in name else name.rstrip("0123456789").rstrip("-")
            kinds.setdefault(kind, []).append(r)
    for kind, turns in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        wait = [(t[2] - t[1]) * 1000 for t in turns]
        hold = [(t[3] - t[2]) * 1000 for t in turns]
        cpu = [t[5] * 1000 for t in turns]
        out.append(
            f"    write turns, {kind}: {len(turns)}  wait p50 {_pct(wait, 0.5):.1f} p99 {_pct(wait, 0.99):.1f}  "
            f"hold p50 {_pct(hold, 0.5):.1f} p99 {_pct(hold, 0.99):.1f} ms  holder CPU p50 {_pct(cpu, 0.5):.1f} ms"
        )
    for gen in (1, 2):
        cs = [r for r in rows if r[0] == "gc" and r[1] == gen and start <= r[2] <= end]
        if cs:
            worst = max(cs, key=lambda r: r[4])
            out.append(
                f"    gc generation {gen}: {len(cs)} collections, worst {worst[4] * 1000:.0f} ms CPU "
                f"({(worst[3] - worst[2]) * 1000:.0f} ms wall)"
            )
    lag = [r[2] * 1000 for r in rows if r[0] == "lag" and start <= r[1] <= end]
    ck = [(r[2] - r[1]) * 1000 for r in rows if r[0] == "ckpt" and start <= r[1] <= end]
    out.append(
        f"    event-loop lag p99 {_pct(lag, 0.99):.1f} max {max(lag, default=0):.0f} ms; "
        f"{len(ck)} checkpoints, longest {max(ck, default=0):.0f} ms"
    )
    stalls = sorted((r for r in rows if r[0] == "stall" and start <= r[1] <= end), key=lambda r: -r[2])
    for r in stalls[:3]:  # the loop watchdog's samples of the longest stalls: where the loop thread was
        out.append(f"    stall {r[2] * 1000:.0f} ms, {r[3]} samples:")
        out += [f"      {n}x {where[:700]}" for where, n in r[4]]
    return out


def threads_round(src: Path | None, url: str, seeded: dict[str, Any], clients: int, args: argparse.Namespace) -> Any:
    """One in-process round in a child process running the given code."""
    cmd = [
        sys.executable,
        __file__,
        "--child-threads",
        "--url",
        url,
        "--brand-id",
        str(seeded["brand_id"]),
        "--clients",
        str(clients),
        "--seconds",
        str(args.seconds),
        "--write-share",
        str(args.write_share),
        "--think-ms",
        str(args.think_ms),
    ]
    out = subprocess.run(cmd, env=_env(src), capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- http mode ----


async def _http_load(
    base: str, token: str, brand_id: int, ids: list[int], clients: int, args: argparse.Namespace
) -> tuple[dict[str, list[float]], list[str], float, float]:
    import httpx

    lat: dict[str, list[float]] = {op: [] for op in OPS}
    errors: list[str] = []
    think = args.think_ms / 1000
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        async def request(op: str, rnd: random.Random, i: int) -> httpx.Response:
            if op == "create":
                body = {"brand_id": brand_id, "subject": f"負載 {i}", "description": "商品還沒到，請協助查詢。"}
                return await client.post("/api/v1/tickets", json=body)
            if op == "list":
                return await client.get("/api/v1/tickets", params={"brand_id": brand_id, "limit": 50})
            return await client.get(f"/api/v1/tickets/{rnd.choice(ids)}")

        for i in range(clients):  # warm up connections, caches and both workers
            for op in OPS:
                await request(op, random.Random(i), -1 - i)
        stop = time.perf_counter() + args.seconds

        async def one_client(seed: int) -> None:
            rnd = random.Random(seed)
            n = 0
            while time.perf_counter() < stop:
                x = rnd.random()
                op = "create" if x < args.write_share else "list" if x < (1 + args.write_share) / 2 else "detail"
                t0 = time.perf_counter()
                try:
                    r = await request(op, rnd, seed * 100_000 + n)
                    if r.status_code >= 400:
                        errors.append(f"{r.status_code} {r.text[:160]}")
                    else:
                        lat[op].append((time.perf_counter() - t0) * 1000)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                n += 1
                await asyncio.sleep(rnd.uniform(0, 2 * think))

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - t0
    return lat, errors, elapsed, t0


def http_round(
    src: Path | None, url: str, seeded: dict[str, Any], clients: int, args: argparse.Namespace, work: Path
) -> Any:
    """One round against a fresh `kefu serve --workers 2` running the given code."""
    from vs_django_helpdesk import CpuSampler, free_port, serving, wait_http

    port = free_port()
    trace = Path(tempfile.mkdtemp(dir=work, prefix="trace-")) if args.trace else None
    env = _env(src, url, trace)
    env["KEFU_DATA_DIR"] = str(work / "kefu-data")
    cmd = [sys.executable, "-m", "kefu", "serve", "--port", str(port), "--workers", "2"]
    with serving(cmd, env, ROOT, work / "kefu.log") as server:
        wait_http(f"http://127.0.0.1:{port}/healthz", lambda s: s == 200)
        base = f"http://127.0.0.1:{port}"
        with CpuSampler(server.pid, None) as cpu:
            lat, errors, elapsed, t0 = asyncio.run(
                _http_load(base, seeded["token"], seeded["brand_id"], seeded["ticket_ids"], clients, args)
            )
        server_s, _ = cpu.seconds()
    out = _summary(lat, errors, elapsed, server_s)
    if trace is not None:
        time.sleep(1)  # the probes write every 0.5 s
        out["trace"] = trace_summary(trace, t0, t0 + elapsed)
        if os.environ.get("KEEP_TRACE"):
            shutil.copytree(trace, Path(os.environ["KEEP_TRACE"]) / trace.name)
    return out


# ---- driver ----


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("threads", "http", "both"), default="both")
    ap.add_argument("--clients", default="8,32", help="comma-separated client counts")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write-share", type=float, default=0.2)
    ap.add_argument("--think-ms", type=float, default=200, help="mean pause between a client's operations")
    ap.add_argument("--baseline-src", type=Path, help="src directory of the code to compare against")
    ap.add_argument("--trace", action="store_true", help="http: print where the servers' time went, per round")
    ap.add_argument("--child-threads", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--brand-id", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_threads:
        args.clients = int(args.clients)
        threads_child(args)
        return
    codes: list[tuple[str, Path | None]] = [("this", None)]
    if args.baseline_src:
        codes.insert(0, ("baseline", args.baseline_src.resolve()))
    modes = ("threads", "http") if args.mode == "both" else (args.mode,)
    counts = [int(c) for c in args.clients.split(",")]
    results: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="sqlite_tail_") as d:
        work = Path(d)
        template = work / "template.db"
        seeded = seed(template)
        for r in range(args.rounds):
            for mode in modes:
                for clients in counts:
                    order = codes if r % 2 == 0 else codes[::-1]
                    for name, src in order:
                        path = fresh_copy(template, work)
                        url = f"sqlite:///{path}"
                        if mode == "threads":
                            res = threads_round(src, url, seeded, clients, args)
                        else:
                            res = http_round(src, url, seeded, clients, args, work)
                        results.setdefault((mode, name, clients), []).append(res)
                        print(
                            f"  round {r + 1} {mode:7} {name:8} c={clients:<3} {res['ops']:6.0f} ops/s "
                            f"p99 {res['all_p99']:7.1f} ms errors {res['errors']} {res['first_error'][:100]}",
                            file=sys.stderr,
                            flush=True,
                        )
                        for line in res.pop("trace", []):
                            print(line, file=sys.stderr, flush=True)
                        for suffix in ("", "-wal", "-shm"):
                            Path(str(path) + suffix).unlink(missing_ok=True)
    print(
        f"SQLite, {args.write_share:.0%} creates, think {args.think_ms:.0f} ms mean, {args.seconds:.0f} s rounds, "
        f"medians of {args.rounds} alternating rounds, {os.cpu_count()} CPUs"
    )
    for (mode, name, clients), rows in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        med = {k: statistics.median(r[k] for r in rows if k in r) for k in rows[0] if k != "first_error"}
        errs = sum(r["errors"] for r in rows)
        locked = sum(r["locked"] for r in rows)
        gate = (
            f"  writer gate: wait {med['gate_wait_ms']:.1f} ms, hold {med['gate_hold_ms']:.1f} ms (means)"
            if "gate_wait_ms" in med
            else ""
        )
        print(
            f"  {mode:7} {name:8} c={clients:<3} {med['ops']:6.0f} ops/s  CPU/op {med['cpu_ms']:5.2f} ms  "
            f"errors {errs} (locked {locked}){gate}"
        )
        for op in (*OPS, "all"):
            if f"{op}_p50" in med and med[f"{op}_p50"] == med[f"{op}_p50"]:
                print(
                    f"      {op:7} p50 {med[op + '_p50']:7.1f}  p95 {med[op + '_p95']:7.1f}  "
                    f"p99 {med[op + '_p99']:7.1f} ms"
                )


if __name__ == "__main__":
    main()
