"""Drill: a token revoked in one API process while Redis (the bus) is down is refused by the other at once, not
after the token cache's time-to-live; once Redis is back, revocations travel over the bus again by themselves."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, kefu_cmd, wait_http
from tests.drills.conftest import RedisServer, drill_env, seed, start, tail, wait_for


def _more_tokens(db_url: str, n: int) -> list[tuple[int, str]]:
    """n more tokens of the seeded agent: (id, raw)."""
    from sqlalchemy import select

    from kefu.auth.models import Agent
    from kefu.auth.service import create_token
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            agent = s.scalars(select(Agent).order_by(Agent.id.desc())).first()
            assert agent is not None
            made = [create_token(s, agent, name=f"t{i}", scopes=None, expires_at=None, actor=None) for i in range(n)]
            s.flush()
            return [(tok.id, raw) for tok, raw in made]
    finally:
        database.dispose()


def test_revocation_during_a_redis_outage_applies_at_once_in_every_process(
    shared_db: str, own_redis: RedisServer, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    seed(shared_db, inbox_kind=None)
    (lost_id, lost), (_, revoker), (later_id, later) = _more_tokens(shared_db, 3)
    # A time-to-live far beyond the drill: only the bus (or its known absence) can explain a prompt refusal.
    env = drill_env(shared_db, tmp_path, own_redis.url, KEFU_TOKEN_CACHE_SECONDS="60", KEFU_SCHEDULER="false")
    port_a, port_b = free_port(), free_port()
    start(procs, kefu_cmd("serve", "--port", str(port_a)), env, tmp_path / "a.log")
    start(procs, kefu_cmd("serve", "--port", str(port_b)), env, tmp_path / "b.log")
    for port in (port_a, port_b):
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
    a, b = f"http://127.0.0.1:{port_a}/api/v1", f"http://127.0.0.1:{port_b}/api/v1"

    def status(base: str, raw: str) -> int:
        return httpx.get(f"{base}/tokens", headers={"Authorization": f"Bearer {raw}"}, timeout=30).status_code

    def revoke(token_id: int) -> None:
        r = httpx.delete(f"{b}/tokens/{token_id}", headers={"Authorization": f"Bearer {revoker}"}, timeout=30)
        assert r.status_code == 204, r.text

    try:
        assert status(a, lost) == 200  # cached in A for 60 s
        own_redis.kill()
        # A's subscriber sees its connection drop (Redis closed it) and says so before anything else happens.
        wait_for(lambda: "redis bus subscriber error" in tail(tmp_path / "a.log"), 30, "A to notice the outage")
        revoke(lost_id)  # B cannot publish: the announcement reaches B's own cache only
        t0 = time.monotonic()
        assert status(a, lost) == 401, "A kept a token revoked in B while the bus was down"
        assert status(a, revoker) == 200  # A keeps serving (reading the database) while Redis is down
        refused_after = time.monotonic() - t0

        own_redis.start()
        assert status(a, later) == 200
        # Once A's subscriber is back (backoff ≤ 5 s) A caches again and B's next revocation reaches it by the bus.
        wait_for(lambda: "subscriber resumed" in tail(tmp_path / "a.log"), 30, "A's bus subscriber to resume")
        assert status(a, later) == 200  # cached in A for 60 s
        revoke(later_id)
        wait_for(lambda: status(a, later) == 401, 10, "the revocation to reach A over the bus")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nA:\n{tail(tmp_path / 'a.log')}\nB:\n{tail(tmp_path / 'b.log')}") from None
    print(f"revoked token refused by the other process {refused_after:.2f}s after the revocation (Redis down)")
