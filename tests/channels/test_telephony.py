"""Telephony webhook (#17): signed PBX events pop the caller, log the call, open the case; missed → call-back."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, select

SECRET = "pbx-s3cret"


def _send(client: Any, inbox_id: int, event: dict[str, Any], *, secret: str = SECRET, at: float | None = None) -> Any:
    from kefu.channels.phone.telephony import sign

    body = json.dumps(event, ensure_ascii=False).encode()
    stamp = str(int(time.time() if at is None else at))
    headers = {"X-Kefu-Timestamp": stamp, "X-Kefu-Signature": sign(secret, stamp, body)}
    return client.post(
        f"/api/v1/channels/phone/{inbox_id}/events",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


def test_signed_pbx_events_log_calls_open_cases_and_missed_calls_become_call_backs(
    client: Any, make: Any, db: Any, inbox: Any, count_queries: Any
) -> None:
    from kefu.callbacks.models import Callback
    from kefu.conversations.models import Message
    from kefu.core.events import get_bus

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.token(make.agent("admin"))
    agent = make.agent("agent", [brand])
    # Two weeks of slots, so a call-back slot exists whatever day the suite runs.
    conf = {"settings": {"callbacks": {"days_ahead": 14}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=conf, headers=admin).is_success
    # The hotline is configured through the admin API like any inbox (secret, extension → agent).
    r = client.post(
        f"/api/v1/brands/{brand.id}/inboxes",
        json={"kind": "phone", "name": "客服專線", "config": {"secret": SECRET, "extensions": f"201={agent.id}, 9=x"}},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    from kefu.brands.models import Inbox

    hotline = db.get(Inbox, r.json()["id"])
    seen: list[Any] = []
    get_bus().add_listener(seen.append)

    ringing = {"call_id": "c-1", "event": "ringing", "caller": "+886912555001", "extension": "201"}
    # Bad signature, a stale (replayed) timestamp, a wrong inbox: refused, nothing stored.
    assert _send(client, hotline.id, ringing, secret="wrong").status_code == 401
    assert _send(client, hotline.id, ringing, at=time.time() - 3600).status_code == 401
    assert _send(client, hotline.id + 999, ringing).status_code == 404
    bad = _send(client, hotline.id, {"call_id": "c-x", "event": "exploded", "caller": "+886912"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")

    r = _send(client, hotline.id, ringing)
    assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is False
    pops = [e for e in seen if e.type == "call.ringing"]
    assert pops and f"agent:{agent.id}" in pops[0].topics and pops[0].data["customer_id"] == r.json()["customer_id"]
    assert pops[0].data["conversation_id"] == r.json()["conversation_id"]  # the timeline the agent opens
    assert _send(client, hotline.id, {**ringing, "event": "answered"}).status_code == 200
    ended = {
        **ringing,
        "event": "ended",
        "duration_seconds": 185,
        "recording_url": "https://pbx.example.com/rec/c-1.wav",
    }
    with count_queries() as q:
        done = _send(client, hotline.id, ended)
    # Logging the call, opening, classifying and routing the case: 41 statements measured; keep it bounded.
    assert q.count <= 50, str(q)
    assert done.status_code == 200, done.text
    out = done.json()
    assert out["ticket_id"] and out["conversation_id"] == r.json()["conversation_id"] and out["callback_id"] is None
    # The same event again (a PBX retry): acknowledged as a duplicate, nothing logged twice.
    again = _send(client, hotline.id, ended)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    calls = db.scalars(
        select(Message).where(Message.conversation_id == out["conversation_id"], Message.content_type == "call")
    ).all()
    assert len(calls) == 1 and calls[0].agent_id == agent.id
    assert calls[0].meta["call"]["recording_url"].endswith("c-1.wav") and "3:05" in calls[0].body
    h = make.token(agent)
    t = client.get(f"/api/v1/tickets/{out['ticket_id']}", headers=h).json()
    assert t["channel"] == "phone" and t["customer_id"] == r.json()["customer_id"]

    # A missed call from a new number: customer, case and a call-back in the queue.
    missed = _send(client, hotline.id, {"call_id": "c-2", "event": "missed", "caller": "0922-777-888"})
    assert missed.status_code == 200, missed.text
    m = missed.json()
    assert m["ticket_id"] and m["callback_id"] and m["customer_id"] != r.json()["customer_id"]
    cb = db.get(Callback, m["callback_id"])
    assert cb.ticket_id == m["ticket_id"] and cb.source == "phone" and cb.phone == "0922-777-888"
    queue = client.get("/api/v1/callbacks", params={"brand_id": brand.id, "status": "booked"}, headers=admin)
    assert queue.status_code == 200, queue.text
    assert m["callback_id"] in [c["id"] for c in queue.json()["items"]]
    # Replaying the missed event does not book a second call-back.
    assert _send(client, hotline.id, {"call_id": "c-2", "event": "missed", "caller": "0922-777-888"}).json()[
        "duplicate"
    ]
    assert db.scalar(select(func.count()).select_from(Callback).where(Callback.brand_id == brand.id)) == 1
    # The same caller calling again links to the same open case (one conversation per caller thread).
    second = _send(
        client, hotline.id, {"call_id": "c-3", "event": "ended", "caller": "+886912555001", "duration_seconds": 30}
    )
    assert second.json()["ticket_id"] == out["ticket_id"] and second.json()["conversation_id"] == out["conversation_id"]


def test_erasing_a_caller_erases_the_raw_call_events(client: Any, make: Any, db: Any, inbox: Any) -> None:
    from kefu.channels.models import InboundEvent
    from kefu.privacy.service import erase_customer

    brand = make.brand()
    hotline = inbox(brand, "phone", {"secret": SECRET})
    ring = _send(client, hotline.id, {"call_id": "e-1", "event": "ringing", "caller": "+886933444555"})
    assert ring.status_code == 200, ring.text
    erase_customer(db, ring.json()["customer_id"], None, reason="GDPR art. 17")
    db.commit()
    payloads = db.scalars(select(InboundEvent.payload).where(InboundEvent.inbox_id == hotline.id)).all()
    assert payloads and all("+886933444555" not in json.dumps(p) for p in payloads)
