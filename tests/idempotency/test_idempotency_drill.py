"""Idempotency-Key across real processes: two servers racing on one key, and a SIGKILL with client retries."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import free_port, kefu_cmd, spawn, stop, wait_http


def _seed(url: str) -> tuple[int, str]:
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.db import Database

    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"idem-{uuid.uuid4().hex[:6]}", name="Idem")
        admin = create_agent(
            s, email=f"i-{uuid.uuid4().hex[:6]}@example.com", name="I", password="long password 1", role="admin"
        )
        _, raw = create_token(s, admin, name="t", scopes=None, expires_at=None, actor=None)
        brand_id = brand.id
    database.dispose()
    return brand_id, raw


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_ENV": "test",
            "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
            "KEFU_DATABASE_URL": url,
            "KEFU_DATA_DIR": str(tmp_path / "data"),
            "KEFU_LOG_LEVEL": "WARNING",
        }
    )
    return env


def _tickets_per_subject(url: str, brand_id: int) -> dict[str, int]:
    from kefu.core.db import Database
    from kefu.tickets.models import Ticket

    database = Database(url)
    try:
        with database.session() as s:
            rows = s.execute(
                select(Ticket.subject, func.count(Ticket.id))
                .where(Ticket.brand_id == brand_id)
                .group_by(Ticket.subject)
            ).all()
    finally:
        database.dispose()
    return {subject: n for subject, n in rows}


@pytest.mark.slow
def test_two_processes_racing_on_one_key_create_once(shared_db: str, tmp_path: Path) -> None:
    """The in-flight guard is per process; across processes the unique key row lets exactly one create commit."""
    brand_id, raw = _seed(shared_db)
    env = _env(shared_db, tmp_path)
    ports = [free_port(), free_port()]
    procs = [spawn(kefu_cmd("serve", "--port", str(p)), env, tmp_path / f"serve{p}.log") for p in ports]
    try:
        for p in ports:
            wait_http(f"http://127.0.0.1:{p}/healthz", timeout=120)
        keys = [f"race-{i}" for i in range(15)]
        answers: dict[str, list[Any]] = {k: [] for k in keys}

        def send(port: int, key: str, go: threading.Barrier) -> None:
            headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": key}
            go.wait()
            r = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/tickets",
                json={"brand_id": brand_id, "subject": f"drill {key}"},
                headers=headers,
                timeout=60,
            )
            answers[key].append(r)

        for key in keys:
            go = threading.Barrier(2)
            threads = [threading.Thread(target=send, args=(p, key, go)) for p in ports]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    finally:
        for proc in procs:
            stop(proc)
    per_subject = _tickets_per_subject(shared_db, brand_id)
    for key in keys:
        a, b = answers[key]
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        assert a.json()["id"] == b.json()["id"]
        assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (a, b)) == ["", "true"]
        assert per_subject[f"drill {key}"] == 1
    print(json.dumps({"keys": len(keys), "tickets": sum(per_subject.values())}))


@pytest.mark.slow
def test_sigkill_then_retry_every_unanswered_key_creates_each_ticket_once(shared_db: str, tmp_path: Path) -> None:
    """The fault drill that found the bug: SIGKILL mid-burst, restart, clients retry what got no answer."""
    brand_id, raw = _seed(shared_db)
    env = _env(shared_db, tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1/tickets"
    headers = {"Authorization": f"Bearer {raw}"}
    proc = spawn(kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve1.log")
    sent: list[str] = []
    acked: set[str] = set()
    lock, halt = threading.Lock(), threading.Event()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)

        def burst(worker: int) -> None:
            with httpx.Client(timeout=5) as http:
                n = 0
                while not halt.is_set():
                    n += 1
                    key = f"w{worker}-{n}"
                    with lock:
                        sent.append(key)
                    try:
                        r = http.post(
                            base,
                            json={"brand_id": brand_id, "subject": f"drill {key}"},
                            headers={**headers, "Idempotency-Key": key},
                        )
                    except httpx.HTTPError:
                        return  # server gone: no answer, the client will retry this key
                    if r.status_code == 201:
                        with lock:
                            acked.add(key)

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # SIGKILL: requests in flight get no answer, some of them committed
        proc.wait(timeout=10)
        halt.set()
        for t in threads:
            t.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acked) >= 40
    before = _tickets_per_subject(shared_db, brand_id)
    unanswered = [k for k in sent if k not in acked]
    committed_unanswered = [k for k in unanswered if f"drill {k}" in before]
    proc2 = spawn(kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve2.log")
    replayed = 0
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        with httpx.Client(timeout=30) as http:
            for key in unanswered:  # what a client with retries does after the outage
                r = http.post(
                    base,
                    json={"brand_id": brand_id, "subject": f"drill {key}"},
                    headers={**headers, "Idempotency-Key": key},
                )
                assert r.status_code == 201, r.text
                replayed += r.headers.get("Idempotent-Replayed") == "true"
    finally:
        stop(proc2)
    after = _tickets_per_subject(shared_db, brand_id)
    assert set(after) == {f"drill {k}" for k in sent}
    assert all(n == 1 for n in after.values()), {s: n for s, n in after.items() if n > 1}
    assert replayed == len(committed_unanswered)
    print(
        json.dumps(
            {
                "sent": len(sent),
                "acked": len(acked),
                "unanswered": len(unanswered),
                "committed_but_unanswered": len(committed_unanswered),
                "tickets": sum(after.values()),
            }
        )
    )
