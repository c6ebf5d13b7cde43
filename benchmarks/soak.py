"""Soak: the scale-out stack (2 `kefu serve`, 2 `kefu worker`, `kefu scheduler`) on PostgreSQL + Redis under a
stream of signed LINE webhooks from new customers, with faults injected while it runs — a worker SIGKILLed, a
server SIGKILLed, every database connection cut (through a TCP proxy) right after LINE delivered a reply, LINE
answering 500 — then recovery. Prints the exact counts: acknowledged = stored = customer messages = reactions,
one send per bot reply, nothing duplicated, nothing stuck.

    .venv/bin/python benchmarks/soak.py --customers 300
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex + uuid.uuid4().hex)

from tests.conftest import create_pg_database, drop_pg_database, free_port, kefu_cmd, wait_http  # noqa: E402
from tests.drills._stack import Burst, CutProxy, FakeLine, counts, settled  # noqa: E402
from tests.drills.conftest import SECRET, drill_env, seed  # noqa: E402


class Stack:
    """The processes of one scale-out deployment, restartable one by one."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str) -> None:
        """Start (or restart) a named process: serve-*, worker-*, scheduler."""
        if name.startswith("serve"):
            port = self.ports.setdefault(name, free_port())
            args = kefu_cmd("serve", "--port", str(port))
            env = {**self.env, "KEFU_SCHEDULER": "false"}
        elif name.startswith("worker"):
            args, env = kefu_cmd("worker", "--concurrency", "3"), self.env
        else:
            args, env = kefu_cmd("scheduler", "--tick", "0.5"), self.env
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook, no acknowledgement, in-flight work abandoned."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        """Terminate everything this stack started."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    """Run the soak and print its counts as JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--redis", default=os.environ.get("KEFU_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between one sender thread's customers")
    ap.add_argument("--settle-timeout", type=float, default=300)
    args = ap.parse_args()

    from kefu.core.migrate import upgrade

    url = create_pg_database(args.pg)
    logs = Path(tempfile.mkdtemp(prefix="kefu-soak-"))
    fake = FakeLine()
    host, dbname = url.rsplit("@", 1)[1].split("/", 1)
    proxy = CutProxy(int(host.split(":")[1]) if ":" in host else 5432)
    via_proxy = f"{url.rsplit('@', 1)[0]}@127.0.0.1:{proxy.port}/{dbname}"
    stack: Stack | None = None
    try:
        upgrade(url)
        cfg = {"channel_secret": SECRET, "channel_access_token": "t", "api_base": fake.url, "initial_status": "bot"}
        inbox_id = int(seed(url, "line", cfg)["inbox_id"])
        env = drill_env(
            via_proxy,
            logs,
            args.redis,
            KEFU_JOBS_LEASE_SECONDS="5",
            KEFU_JOBS_BASE_DELAY_SECONDS="0.3",
            KEFU_JOBS_MAX_DELAY_SECONDS="3",
            KEFU_OUTBOX_SEND_LEASE_SECONDS="5",
            KEFU_CHANNELS_SWEEP_SECONDS="1",
        )
        stack = Stack(env, logs)
        for name in ("serve-a", "serve-b", "worker-a", "worker-b", "scheduler"):
            stack.start(name)
        for name in ("serve-a", "serve-b"):
            wait_http(f"http://127.0.0.1:{stack.ports[name]}/healthz", timeout=120)
        hooks = [f"http://127.0.0.1:{stack.ports[n]}/api/v1/channels/line/{inbox_id}/webhook" for n in stack.ports]
        users = [f"Usoak{i:05d}" for i in range(args.customers)]
        burst = Burst(hooks, users, threads=args.threads, pause=args.pause)
        started = time.monotonic()
        runner = burst.start(args.settle_timeout)
        faults: list[dict[str, Any]] = []

        def at(fraction: float) -> None:
            while len(burst.acked) < fraction * args.customers and runner.is_alive():
                time.sleep(0.05)

        at(0.15)
        stack.kill("worker-a")
        faults.append({"fault": "SIGKILL worker-a", "at_acked": len(burst.acked)})
        time.sleep(1)
        stack.start("worker-a")
        at(0.4)
        stack.kill("serve-b")
        faults.append({"fault": "SIGKILL serve-b", "at_acked": len(burst.acked)})
        time.sleep(1)
        stack.start("serve-b")
        cut_left = [2]

        def cut_after_delivery(_: int) -> None:
            if cut_left[0] > 0:
                cut_left[0] -= 1
                proxy.cut()
                threading.Timer(3.0, proxy.heal).start()
                time.sleep(0.3)  # the answer reaches the sender after its connections died

        fake.on_delivery = cut_after_delivery
        armed = time.monotonic()
        while cut_left[0] > 0 and time.monotonic() - armed < 120:
            time.sleep(0.1)
        faults.append({"fault": f"database cut x{2 - cut_left[0]} (3 s) right after LINE delivered a reply"})
        time.sleep(4)
        fake.fail_next = 25
        faults.append({"fault": "LINE answers 500 to the next 25 sends", "at_sends": sum(fake.per_user().values())})
        runner.join(args.settle_timeout + 20)
        load_s = time.monotonic() - started
        deadline = time.monotonic() + args.settle_timeout
        c = counts(url, inbox_id, fake)
        while not settled(c, len(burst.acked)) and time.monotonic() < deadline:
            time.sleep(1)
            c = counts(url, inbox_id, fake)
        time.sleep(2)
        c = counts(url, inbox_id, fake)
        recovered_s = time.monotonic() - started - load_s
        acked = len(set(burst.acked))
        report = {
            "customers": args.customers,
            "acked": acked,
            "webhook_redeliveries": burst.retries,
            "faults": faults,
            "load_s": round(load_s, 1),
            "settled_after_load_s": round(recovered_s, 1),
            "line_requests": fake.requests,
            "duplicates_refused_by_line": fake.refused,
            **c,
            # Not delivered: no message, no reaction, or a reply never sent (an `unknown` row LINE never received).
            "lost": acked - c["messages"] + (c["messages"] - c["reactions"]) + max(c["bot_replies"] - c["sends"], 0),
            "duplicated": c["stored_twice"] + c["messages_twice"] + c["users_sent_twice"] + c["convs_with_two_replies"],
            "stuck": sum(c["jobs_left"].values()) + c["events_not_processed"],
        }
        print(json.dumps(report, ensure_ascii=False, indent=1))
    finally:
        if stack is not None:
            stack.stop_all()
        proxy.close()
        fake.close()
        drop_pg_database(args.pg, url)
        print(f"logs: {logs}", file=sys.stderr)


if __name__ == "__main__":
    main()
