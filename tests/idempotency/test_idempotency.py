"""Idempotency-Key on API creates: replay, mismatch, header limits, scope, in-flight duplicate, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from kefu.conversations.models import Message
from kefu.idempotency.models import IdempotencyKey
from kefu.tickets.models import Ticket, TicketActivity


def _tickets(db: Any, brand: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(Ticket).where(Ticket.brand_id == brand.id)))


def _setup(make: Any) -> tuple[Any, dict[str, str]]:
    brand = make.brand()
    return brand, make.token(make.agent("admin", [brand]))


def test_same_key_and_body_replays_the_ticket(client: Any, make: Any, db: Any, events: list[Any]) -> None:
    brand, headers = _setup(make)
    h = {**headers, "Idempotency-Key": "order-4711-complaint"}
    body = {"brand_id": brand.id, "subject": "發票開錯", "description": "統編打錯了", "priority": "high"}
    first = client.post("/api/v1/tickets", json=body, headers=h)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same request again (keys in another order: the body is compared as JSON), as a client retries it.
    again = client.post("/api/v1/tickets", json=dict(reversed(list(body.items()))), headers=h)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["number"] == first.json()["number"]
    assert _tickets(db, brand) == 1
    # The retry's own create was rolled back with its after-commit hooks: subscribers heard of one ticket.
    assert [e.type for e in events].count("ticket.created") == 1


def test_without_a_key_every_post_creates(client: Any, make: Any, db: Any) -> None:
    brand, headers = _setup(make)
    for _ in range(2):
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "訂單未到"}, headers=headers)
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert _tickets(db, brand) == 2
    assert db.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_same_key_other_body_is_422(client: Any, make: Any, db: Any) -> None:
    brand, headers = _setup(make)
    h = {**headers, "Idempotency-Key": "k1"}
    assert client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "A"}, headers=h).status_code == 201
    r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "B"}, headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in r.json()["detail"]
    assert _tickets(db, brand) == 1


def test_key_length_and_characters_are_checked(client: Any, make: Any) -> None:
    brand, headers = _setup(make)
    body = {"brand_id": brand.id, "subject": "A"}
    ok = client.post("/api/v1/tickets", json=body, headers={**headers, "Idempotency-Key": "k" * 255})
    assert ok.status_code == 201, ok.text
    for bad in ("k" * 256, "has space"):
        r = client.post("/api/v1/tickets", json=body, headers={**headers, "Idempotency-Key": bad})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")


def test_keys_are_per_token(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    agent = make.agent("admin", [brand])
    body = {"brand_id": brand.id, "subject": "A"}
    for headers in (make.token(agent), make.token(agent)):
        r = client.post("/api/v1/tickets", json=body, headers={**headers, "Idempotency-Key": "same"})
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert _tickets(db, brand) == 2


def test_comment_and_message_replay(client: Any, make: Any, db: Any) -> None:
    brand, headers = _setup(make)
    t1 = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "A"}, headers=headers).json()["id"]
    t2 = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "B"}, headers=headers).json()["id"]
    h = {**headers, "Idempotency-Key": "c-1"}
    url = f"/api/v1/tickets/{t1}/activities"
    first = client.post(url, json={"body": "已聯絡物流", "public": True}, headers=h)
    again = client.post(url, json={"body": "已聯絡物流", "public": True}, headers=h)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    count = select(func.count()).select_from(TicketActivity).where(TicketActivity.body == "已聯絡物流")
    assert db.scalar(count) == 1
    # The same key for the same route but another ticket is another request.
    other = client.post(f"/api/v1/tickets/{t2}/activities", json={"body": "已聯絡物流", "public": True}, headers=h)
    assert other.status_code == 422, other.text

    customer = make.customer(brand)
    conv = client.post(
        "/api/v1/conversations", json={"brand_id": brand.id, "customer_id": customer.id, "channel": "phone"}, headers=h
    )
    assert conv.status_code == 201, conv.text
    murl = f"/api/v1/conversations/{conv.json()['id']}/messages"
    m1 = client.post(
        murl, json={"body": "您好，已為您處理", "is_note": True}, headers=h
    )  # the same key on another route is fine
    m2 = client.post(murl, json={"body": "您好，已為您處理", "is_note": True}, headers=h)
    assert m1.status_code == m2.status_code == 201, m2.text
    assert m2.headers["Idempotent-Replayed"] == "true" and m2.json()["id"] == m1.json()["id"]
    assert db.scalar(select(func.count()).select_from(Message).where(Message.body == "您好，已為您處理")) == 1


def test_duplicate_in_flight_is_409_with_retry_after(client: Any, make: Any, db: Any, in_flight: Any) -> None:
    from kefu.tickets import service

    brand, headers = _setup(make)
    client.get(
        "/api/v1/tickets", headers=headers
    )  # the token is in the cache: the duplicate needs no SQL to be refused
    h = {**headers, "Idempotency-Key": "slow-1"}
    body = {"brand_id": brand.id, "subject": "A"}
    # open_ticket is what POST /api/v1/tickets calls
    first, dup = in_flight(service, "open_ticket", lambda: client.post("/api/v1/tickets", json=body, headers=h))
    assert dup.status_code == 409, dup.text
    assert dup.headers["Retry-After"] == "1"
    assert dup.headers["content-type"].startswith("application/problem+json")
    assert first.status_code == 201, first.text
    later = client.post("/api/v1/tickets", json=body, headers=h)
    assert later.headers["Idempotent-Replayed"] == "true" and later.json()["id"] == first.json()["id"]
    assert _tickets(db, brand) == 1


def test_keys_expire_after_a_day(client: Any, make: Any, db: Any) -> None:
    from kefu.core.db import utcnow
    from kefu.idempotency.service import prune

    brand, headers = _setup(make)
    h = {**headers, "Idempotency-Key": "old"}
    body = {"brand_id": brand.id, "subject": "A"}
    first = client.post("/api/v1/tickets", json=body, headers=h).json()["id"]
    assert prune(db) == 0  # a fresh key stays
    db.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, minutes=1)))
    assert prune(db) == 1
    db.commit()
    again = client.post("/api/v1/tickets", json=body, headers=h)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first and _tickets(db, brand) == 2


def test_prune_is_a_periodic_job() -> None:
    from kefu.core.scheduler import periodic_jobs
    from kefu.registry import load_jobs

    load_jobs()
    assert periodic_jobs()["idempotency.prune"].every == 3600


def test_openapi_documents_the_header(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}/activities",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/conversations",
        "/api/v1/channels/conversations/{conversation_id}/messages",
    ):
        params = spec["paths"][path]["post"].get("parameters", [])
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params), path


def test_a_retry_that_now_fails_still_replays(client: Any, make: Any, db: Any, monkeypatch: Any) -> None:
    from kefu.core.errors import Conflict
    from kefu.tickets import service

    brand, headers = _setup(make)
    t = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "A"}, headers=headers).json()["id"]
    h = {**headers, "Idempotency-Key": "c-2"}
    url = f"/api/v1/tickets/{t}/activities"
    first = client.post(url, json={"body": "處理中"}, headers=h)
    assert first.status_code == 201, first.text

    def refuse(*a: Any, **kw: Any) -> Any:
        raise Conflict("The ticket is closed.")

    monkeypatch.setattr(service, "add_comment", refuse)  # the world changed between the create and its retry
    again = client.post(url, json={"body": "處理中"}, headers=h)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.json()["id"] == first.json()["id"]
    fresh = client.post(url, json={"body": "處理中"}, headers={**headers, "Idempotency-Key": "c-3"})
    assert fresh.status_code == 409, fresh.text  # a new key gets the real answer
