"""Drills: exactly once after the acknowledgement. Real `kefu serve` / `kefu worker` processes, signed LINE webhooks
from new customers, a LINE API fake that behaves like LINE on retries; each drill ends with exact counts:
acked = stored = customer messages = reactions, one bot reply and one send per customer, no job left."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, kefu_cmd, wait_http
from tests.drills._stack import Burst, CutProxy, FakeLine, assert_exactly_once, counts, settled
from tests.drills.conftest import SECRET, RedisServer, drill_env, seed, start, tail, wait_for

N = 16


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    fake = FakeLine()
    yield fake
    fake.close()


def _env(db_url: str, tmp_path: Path, redis_url: str | None, **extra: str) -> dict[str, str]:
    return drill_env(
        db_url,
        tmp_path,
        redis_url,
        KEFU_JOBS_LEASE_SECONDS="3",
        KEFU_JOBS_POLL_SECONDS="0.3",
        KEFU_JOBS_BASE_DELAY_SECONDS="0.2",
        KEFU_JOBS_MAX_DELAY_SECONDS="1",
        KEFU_OUTBOX_SEND_LEASE_SECONDS="3",
        **extra,
    )


def _inbox(db_url: str, fake: FakeLine) -> int:
    cfg = {"channel_secret": SECRET, "channel_access_token": "t", "api_base": fake.url, "initial_status": "bot"}
    return int(seed(db_url, "line", cfg)["inbox_id"])


def _users(tag: str, n: int = N) -> list[str]:
    return [f"U{tag}{i:03d}" for i in range(n)]


def _serve(
    procs: list[Any], env: dict[str, str], tmp_path: Path, name: str, port: int | None = None
) -> tuple[Any, int]:
    port = port or free_port()
    proc = start(procs, kefu_cmd("serve", "--port", str(port)), env, tmp_path / f"{name}.log")
    return proc, port


def _hook(port: int, inbox_id: int) -> str:
    return f"http://127.0.0.1:{port}/api/v1/channels/line/{inbox_id}/webhook"


def _settle(db_url: str, inbox_id: int, fake: FakeLine, acked: list[str], tmp_path: Path, timeout: float = 90) -> Any:
    try:
        wait_for(lambda: settled(counts(db_url, inbox_id, fake), len(acked)), timeout, "every reaction and send")
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.name}\n{tail(p, 1500)}" for p in sorted(tmp_path.glob("*.log")))
        raise AssertionError(f"{exc}\n{counts(db_url, inbox_id, fake)}\n{logs}") from None
    time.sleep(1.0)  # a late duplicate would show up now
    c = counts(db_url, inbox_id, fake)
    assert_exactly_once(c, acked)
    return c


@pytest.mark.slow
def test_new_customers_each_get_one_reaction_and_one_send(
    fresh_db: str, own_redis: RedisServer, fake_line: FakeLine, tmp_path: Path, procs: list[Any]
) -> None:
    """The after_commit/savepoint race: bot jobs were enqueued before the real COMMIT and found no message."""
    inbox_id = _inbox(fresh_db, fake_line)
    env = _env(fresh_db, tmp_path, own_redis.url)
    _, port = _serve(procs, env, tmp_path, "serve")
    for name in ("worker-a", "worker-b"):
        start(procs, kefu_cmd("worker", "--concurrency", "3"), env, tmp_path / f"{name}.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
    burst = Burst([_hook(port, inbox_id)], _users("race"), threads=8)
    burst.run(60)
    assert burst.unexpected == [] and len(burst.acked) == N
    c = _settle(fresh_db, inbox_id, fake_line, burst.acked, tmp_path)
    print(json.dumps({"drill": "savepoint race", "acked": len(burst.acked), **c}))


@pytest.mark.slow
def test_worker_sigkill_during_bot_jobs(
    fresh_db: str, own_redis: RedisServer, fake_line: FakeLine, tmp_path: Path, procs: list[Any]
) -> None:
    inbox_id = _inbox(fresh_db, fake_line)
    env = _env(fresh_db, tmp_path, own_redis.url)
    _, port = _serve(procs, env, tmp_path, "serve")
    victim = start(procs, kefu_cmd("worker", "--concurrency", "2"), env, tmp_path / "worker-a.log")
    start(procs, kefu_cmd("worker", "--concurrency", "2"), env, tmp_path / "worker-b.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
    burst = Burst([_hook(port, inbox_id)], _users("kill"), threads=2, pause=0.3)
    runner = burst.start(90)
    wait_for(lambda: counts(fresh_db, inbox_id, fake_line)["reactions"] >= 3, 60, "bot jobs to be running")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    runner.join(100)
    assert burst.unexpected == [] and len(burst.acked) == N
    c = _settle(fresh_db, inbox_id, fake_line, burst.acked, tmp_path)
    print(json.dumps({"drill": "worker SIGKILL", "acked": len(burst.acked), **c}))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["embedded", "scale-out"])
def test_serve_sigkill_during_burst(
    mode: str,
    fake_line: FakeLine,
    tmp_path: Path,
    procs: list[Any],
    request: pytest.FixtureRequest,
) -> None:
    """Embedded: jobs queued in the process die with it; their rows do not. Scale-out: the other server carries on."""
    if mode == "embedded":
        from kefu.core.migrate import upgrade

        db_url = f"sqlite:///{tmp_path / 'kefu.db'}"
        upgrade(db_url)
        env = _env(db_url, tmp_path, None)
    else:
        db_url = request.getfixturevalue("fresh_db")
        env = _env(db_url, tmp_path, request.getfixturevalue("own_redis").url)
    inbox_id = _inbox(db_url, fake_line)
    victim, port_a = _serve(procs, env, tmp_path, "serve-a")
    ports = [port_a]
    if mode == "scale-out":
        _, port_b = _serve(procs, env, tmp_path, "serve-b")
        ports.append(port_b)
        start(procs, kefu_cmd("worker", "--concurrency", "3"), env, tmp_path / "worker.log")
    for p in ports:
        wait_http(f"http://127.0.0.1:{p}/healthz", timeout=90)
    burst = Burst([_hook(p, inbox_id) for p in ports], _users("serve"), threads=3, pause=0.2)
    runner = burst.start(120)
    wait_for(lambda: len(burst.acked) >= 4, 60, "the burst to get going", interval=0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    if mode == "embedded":  # the operator (systemd) restarts it; LINE redelivers what was not acknowledged
        _serve(procs, env, tmp_path, "serve-a2", port=port_a)
        wait_http(f"http://127.0.0.1:{port_a}/healthz", timeout=90)
    runner.join(130)
    assert burst.unexpected == [] and len(burst.acked) == N
    c = _settle(db_url, inbox_id, fake_line, burst.acked, tmp_path)
    print(json.dumps({"drill": f"serve SIGKILL ({mode})", "acked": len(burst.acked), "retries": burst.retries, **c}))


@pytest.mark.slow
def test_provider_500s_then_recovery(
    fresh_db: str, own_redis: RedisServer, fake_line: FakeLine, tmp_path: Path, procs: list[Any]
) -> None:
    inbox_id = _inbox(fresh_db, fake_line)
    env = _env(fresh_db, tmp_path, own_redis.url, KEFU_OUTBOX_BASE_DELAY_SECONDS="0.3")
    fake_line.fail_next = 2 * N  # LINE has an outage: every first and second try answers 500
    _, port = _serve(procs, env, tmp_path, "serve")
    start(procs, kefu_cmd("worker", "--concurrency", "3"), env, tmp_path / "worker.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
    burst = Burst([_hook(port, inbox_id)], _users("p500"), threads=4)
    burst.run(60)
    c = _settle(fresh_db, inbox_id, fake_line, burst.acked, tmp_path)
    assert fake_line.fail_next == 0 and fake_line.requests >= 3 * N
    print(
        json.dumps({"drill": "provider 500s", "acked": len(burst.acked), "provider_requests": fake_line.requests, **c})
    )


@pytest.mark.slow
def test_database_cut_during_sends(
    fake_line: FakeLine, own_redis: RedisServer, tmp_path: Path, procs: list[Any], request: pytest.FixtureRequest
) -> None:
    """PostgreSQL connections die while replies are being sent (some after LINE said ok, before we recorded it):
    nothing is sent twice; a reply whose outcome was lost is `unknown`, not pushed again."""
    fresh_db = request.getfixturevalue("fresh_db")
    host, dbname = fresh_db.rsplit("@", 1)[1].split("/", 1)
    proxy = CutProxy(int(host.split(":")[1]) if ":" in host else 5432)
    via_proxy = f"{fresh_db.rsplit('@', 1)[0]}@127.0.0.1:{proxy.port}/{dbname}"
    try:
        inbox_id = _inbox(fresh_db, fake_line)
        env = _env(via_proxy, tmp_path, own_redis.url)
        _, port = _serve(procs, env, tmp_path, "serve")
        start(procs, kefu_cmd("worker", "--concurrency", "3"), env, tmp_path / "worker.log")
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
        # LINE has delivered these replies when the database goes away, before the sender hears "ok".
        cut_on = {2, 6, 11}

        def cut_after_delivery(n: int) -> None:
            if n in cut_on:
                proxy.cut()
                threading.Timer(1.5, proxy.heal).start()
                time.sleep(0.3)  # the answer reaches the sender after its connections died

        fake_line.on_delivery = cut_after_delivery
        burst = Burst([_hook(port, inbox_id)], _users("cut"), threads=2, pause=0.25)
        runner = burst.start(120)
        runner.join(130)
        assert burst.unexpected == [] and len(burst.acked) == N
        c = _settle(fresh_db, inbox_id, fake_line, burst.acked, tmp_path, timeout=120)
        assert fake_line.refused >= 1, "no send was retried after the cut: the drill did not hit the window"
        report = {"drill": "database cut", "cuts": proxy.cuts, "duplicates_refused_by_line": fake_line.refused}
        print(json.dumps({**report, "retries": burst.retries, **c}))
    finally:
        proxy.close()
