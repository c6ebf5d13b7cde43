"""Idempotency-Key across real processes: two servers racing on one key, and a SIGKILL with client retries."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.drills.conftest import Load, Serve, drill_env, in_session, seed


def _tickets_per_subject(url: str, brand_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from kefu.tickets.models import Ticket

    stmt = select(Ticket.subject, func.count(Ticket.id)).where(Ticket.brand_id == brand_id).group_by(Ticket.subject)
    return in_session(url, lambda s: {subject: int(n) for subject, n in s.execute(stmt).all()})


@pytest.mark.slow
def test_two_processes_racing_on_one_key_create_once(shared_db: str, tmp_path: Path) -> None:
    """The in-flight guard is per process; across processes the unique key row lets exactly one create commit."""
    s = seed(shared_db, inbox_kind=None)
    env = drill_env(shared_db, tmp_path)
    keys = [f"race-{i}" for i in range(15)]
    answers: dict[str, list[Any]] = {k: [] for k in keys}
    with Serve(env, tmp_path / "serve-a.log") as a, Serve(env, tmp_path / "serve-b.log") as b:

        def send(base: str, key: str, go: threading.Barrier) -> None:
            headers = {"Authorization": f"Bearer {s['token']}", "Idempotency-Key": key}
            go.wait()
            body = {"brand_id": s["brand_id"], "subject": f"drill {key}"}
            answers[key].append(httpx.post(f"{base}/api/v1/tickets", json=body, headers=headers, timeout=60))

        for key in keys:
            go = threading.Barrier(2)
            threads = [threading.Thread(target=send, args=(server.base, key, go)) for server in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    per_subject = _tickets_per_subject(shared_db, s["brand_id"])
    for key in keys:
        first, second = answers[key]
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (first, second)) == ["", "true"]
        assert per_subject[f"drill {key}"] == 1
    print(json.dumps({"keys": len(keys), "tickets": sum(per_subject.values())}))


@pytest.mark.slow
def test_sigkill_then_retry_every_unanswered_key_creates_each_ticket_once(shared_db: str, tmp_path: Path) -> None:
    """The fault drill that found the bug: SIGKILL mid-burst, restart, clients retry what got no answer."""
    s = seed(shared_db, inbox_kind=None)
    env = drill_env(shared_db, tmp_path)
    headers = {"Authorization": f"Bearer {s['token']}"}
    sent: list[str] = []

    def create(http: httpx.Client, worker: int, n: int) -> list[str]:
        key = f"w{worker}-{n}"
        sent.append(key)
        body = {"brand_id": s["brand_id"], "subject": f"drill {key}"}
        r = http.post(f"{server.base}/api/v1/tickets", json=body, headers={"Idempotency-Key": key})
        return [key] if r.status_code == 201 else []

    with Serve(env, tmp_path / "serve1.log") as server:
        load = Load(create, 4, headers=headers, timeout=5).start()
        try:
            load.wait(40, 30, "acknowledged creates")
        finally:
            server.kill()  # SIGKILL: requests in flight get no answer, some of them committed
            load.stop()
    acked = set(load.acked)
    before = _tickets_per_subject(shared_db, s["brand_id"])
    unanswered = [k for k in sent if k not in acked]
    committed_unanswered = [k for k in unanswered if f"drill {k}" in before]
    replayed = 0
    with Serve(env, tmp_path / "serve2.log", port=server.port) as again, httpx.Client(timeout=30) as http:
        for key in unanswered:  # what a client with retries does after the outage
            r = http.post(
                f"{again.base}/api/v1/tickets",
                json={"brand_id": s["brand_id"], "subject": f"drill {key}"},
                headers={**headers, "Idempotency-Key": key},
            )
            assert r.status_code == 201, r.text
            replayed += r.headers.get("Idempotent-Replayed") == "true"
    after = _tickets_per_subject(shared_db, s["brand_id"])
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
