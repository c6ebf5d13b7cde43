"""CPU per ticket create of a *served* kefu (`kefu serve`, uvicorn), this tree against a baseline, alternating rounds.

Usage: python benchmarks/served_create.py [--db sqlite|pg] [--pg postgresql://…] [--n 1000] [--rounds 3]
    [--concurrency 8] [--workers 1] [--work ticket|ticket+message] [--baseline-src DIR] [--idle 5]
    [--server-env KEY=VALUE ...]

Each code (this tree's `src`, and `--baseline-src`, e.g. the `src` of `git archive main src`) gets its own fresh
database and its own `kefu serve --workers N` process, started with that code first on PYTHONPATH; both stay up
for the whole run. A round drives `--n` creates over keep-alive connections (httpx, `--concurrency` clients) at one
server while the other idles, and rounds alternate which code goes first. CPU per create is the server's process
tree (every thread: the event loop, the thread pool, the job runner, the scheduler, the checkpointer) plus, on
PostgreSQL, the backends of that server's database, sampled from /proc (vs_django_helpdesk.CpuSampler) — nothing
subtracted. `--idle S` also measures each server's CPU over S seconds without requests (its background threads),
printed as ms per second so its share of a round can be judged. SQL statements per create are not counted here
(create_cpu.py does that in-process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_django_helpdesk import CpuSampler, _proc_stats, _server_tree, drive, kefu_served

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(
    src: Path, kind: str, admin_url: str, work: Path, label: str, workers: int, extra_env: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """A fresh database with a brand and an admin token, served by `kefu serve` running the code in `src`."""
    env = {"PYTHONPATH": str(src), **extra_env}
    with kefu_served(admin_url, kind, work, label, workers, env) as (server, port, token, brand_id, url):
        yield {
            "server": server,
            "url": f"http://127.0.0.1:{port}/api/v1/tickets",
            "headers": {"Authorization": f"Bearer {token}"},
            "brand_id": brand_id,
            "dbname": url.rsplit("/", 1)[1] if kind == "pg" else None,
        }


def one_round(side: dict[str, Any], n: int, c: int, work_kind: str, tag: str) -> dict[str, float]:
    """n creates at one server; its CPU (tree + PostgreSQL backends) per create."""

    def body(i: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "brand_id": side["brand_id"],
            "subject": f"工單 {tag}-{i}",
            "description": "商品還沒到，請協助查詢。",
        }
        if work_kind == "ticket+message":
            out["comment"] = {"body": f"已收到您的問題 {i}，我們會盡快回覆。", "public": True}
        return out

    reads0 = read_calls(side["server"].pid)
    with CpuSampler(side["server"].pid, side["dbname"]) as cpu:
        result = asyncio.run(drive(side["url"], side["headers"], body, n, c))
    server_s, pg_s = cpu.seconds()
    reads = read_calls(side["server"].pid) - reads0
    return {**result, "server_ms": 1000 * server_s / n, "pg_ms": 1000 * pg_s / n, "reads": reads / n}


def read_calls(root: int) -> int:
    """Read system calls so far of the server tree (/proc/PID/io `syscr`: SQLite's page reads, and socket reads)."""
    total = 0
    for pid in _server_tree(_proc_stats(), root):
        try:
            io = Path(f"/proc/{pid}/io").read_text()
        except OSError:
            continue
        total += int(io.split("syscr:", 1)[1].split()[0])
    return total


def idle_rate(side: dict[str, Any], seconds: float) -> float:
    """The server's CPU without requests, ms per second (its background threads)."""
    with CpuSampler(side["server"].pid, side["dbname"]) as cpu:
        time.sleep(seconds)
    server_s, pg_s = cpu.seconds()
    return 1000 * (server_s + pg_s) / seconds


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--work", choices=("ticket", "ticket+message"), default="ticket+message")
    ap.add_argument("--baseline-src", type=Path, help="src directory of the code to compare against")
    ap.add_argument("--idle", type=float, default=0.0, help="also measure each server's idle CPU over this many s")
    ap.add_argument("--server-env", action="append", default=[], help="KEY=VALUE for both servers")
    args = ap.parse_args()
    os.environ.setdefault("KEFU_ENV", "test")
    os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)
    extra = dict(kv.split("=", 1) for kv in args.server_env)
    codes = [("this", ROOT / "src")]
    if args.baseline_src:
        codes.insert(0, ("baseline", args.baseline_src.resolve()))
    load = os.getloadavg()[0]
    print(
        f"served create ({args.work}), {args.db}, kefu serve --workers {args.workers}, {args.concurrency} clients, "
        f"{args.rounds} rounds × {args.n}, load average {load:.1f}"
    )
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in codes}
    with tempfile.TemporaryDirectory() as d, ExitStack() as stack:
        sides = {
            name: stack.enter_context(served(src, args.db, args.pg, Path(d), name, args.workers, extra))
            for name, src in codes
        }
        for name, side in sides.items():  # warm-up: caches, pools, each worker's first creates
            one_round(side, 200, args.concurrency, args.work, f"warm-{name}")
        for r in range(args.rounds):
            order = codes if r % 2 == 0 else codes[::-1]
            for name, _ in order:
                res = one_round(sides[name], args.n, args.concurrency, args.work, f"{r}-{name}")
                results[name].append(res)
                print(
                    f"round {r + 1} {name:8s} {res['rate']:7.1f}/s p50 {res['p50']:5.1f} ms  CPU/create: server "
                    f"{res['server_ms']:.3f} ms + PostgreSQL {res['pg_ms']:.3f} ms, {res['reads']:.1f} reads  "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        if args.idle:
            for name, side in sides.items():
                print(f"idle {name:8s} {idle_rate(side, args.idle):.1f} ms CPU per second")
    for name, rs in results.items():
        server = statistics.median(r["server_ms"] for r in rs)
        pg = statistics.median(r["pg_ms"] for r in rs)
        total = statistics.median(r["server_ms"] + r["pg_ms"] for r in rs)
        reads = statistics.median(r["reads"] for r in rs)
        print(
            f"median {name:8s} server {server:.3f} ms + PostgreSQL {pg:.3f} ms = {total:.3f} ms per create, "
            f"{reads:.1f} read calls"
        )


if __name__ == "__main__":
    main()
