"""Shared by the tests of posts sent twice (message board, call-back booking): forced interleavings and a seed.

`miss_once` makes the next duplicate lookup miss (as if it ran before the racing twin committed), on either database;
`race` runs two real transactions on PostgreSQL, the slow one held between its lookup and its insert. The public
booking helpers are the call-back tests' seed: a brand in Taipei on a fixed Monday, open slots, one booking post.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PG_URL
from tests.tickets.helpers import Clock, tw

needs_pg = pytest.mark.skipif(not PG_URL, reason="PostgreSQL not configured (SQLite writers are serialized: no race)")
PHONE = "0912-345-678"


def miss_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, answer: Callable[..., Any]) -> list[str]:
    """The next call of `module.name` (a lookup taking `submission_id`) misses with `answer(*args)`; later ones are
    real. Returns the list the missed submission id is appended to."""
    real = getattr(module, name)
    signature = inspect.signature(real)
    missed: list[str] = []

    def lookup(*args: Any, **kwargs: Any) -> Any:
        if not missed:
            missed.append(signature.bind(*args, **kwargs).arguments["submission_id"])
            return answer(*args, **kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, lookup)
    return missed


def race(module: Any, name: str, post: Callable[[str], None], timeout: float = 30) -> None:
    """`post("slow")` on a thread held right after its `module.name` lookup while `post("fast")` runs and commits;
    then the slow one goes on (and meets the fast one's unique key). The lookup is restored afterwards."""
    looked_up, release = threading.Event(), threading.Event()
    real = getattr(module, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if threading.current_thread().name == "slow" and not looked_up.is_set():
            looked_up.set()  # this lookup missed; the twin now runs and commits before this one inserts
            assert release.wait(timeout)
        return out

    setattr(module, name, held)
    slow = threading.Thread(target=post, args=("slow",), name="slow")
    try:
        slow.start()
        assert looked_up.wait(timeout)
        post("fast")
    finally:
        release.set()
        slow.join(timeout)
        setattr(module, name, real)


def from_ip(app: Any, ip: str) -> TestClient:
    """A client whose requests come from `ip` (the public cap counts per client address)."""
    return TestClient(app, base_url="http://testserver", client=(ip, 40000))


def booking_brand(make: Any, clock: Clock) -> Any:
    """A brand in Taipei, the services' clock at Monday 2026-03-09 09:00 there (its slots are open)."""
    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 9, 9, 0))
    return brand


def open_slots(client: Any, slug: str) -> list[str]:
    """The start times the public API offers for call-backs."""
    r = client.get(f"/api/v1/public/brands/{slug}/callback-slots")
    assert r.status_code == 200, r.text
    return [s["start"] for s in r.json()["slots"]]


def post_booking(
    client: Any, slug: str, at: str, phone: str = PHONE, *, submission_id: str | None = None, topic: str = "帳單"
) -> Any:
    """One public call-back booking post (with a submission id when given)."""
    body: dict[str, Any] = {"scheduled_at": at, "phone": phone, "name": "王", "topic": topic}
    if submission_id is not None:
        body["submission_id"] = submission_id
    return client.post(f"/api/v1/public/brands/{slug}/callbacks", json=body)
