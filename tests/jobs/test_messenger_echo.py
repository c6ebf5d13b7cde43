"""Messenger has no idempotency key: a send whose outcome was lost becomes `unknown`, never a second copy, and the
echo webhook of that send (carrying our key as metadata) marks it sent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.channels.conftest import hub_sign

APP_SECRET = "echo-app-secret"


def _body(*messaging: dict[str, Any]) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": list(messaging)}]}).encode()


def _post(client: Any, inbox_id: int, body: bytes) -> Any:
    headers = {"X-Hub-Signature-256": hub_sign(APP_SECRET, body), "Content-Type": "application/json"}
    return client.post(f"/api/v1/channels/messenger/{inbox_id}/webhook", content=body, headers=headers)


def test_lost_send_is_unknown_then_settled_by_its_echo(
    client: Any, db: Any, make: Any, jobs: Any, session_factory: Any, monkeypatch: Any
) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels import outbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation
    from kefu.core.db import utcnow

    brand = make.brand()
    cfg = {"app_secret": APP_SECRET, "verify_token": "v", "page_access_token": "p", "api_base": "http://127.0.0.1:9"}
    cfg["initial_status"] = "open"  # agents answer: the only outbound row is the agent reply
    ib = create_inbox(db, brand, kind="messenger", name="fb", config=cfg, actor=None)
    db.commit()
    text = {"sender": {"id": "PSIDX"}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000}
    text["message"] = {"mid": "mid.in.1", "text": "在嗎"}
    assert _post(client, ib.id, _body(text)).status_code == 200
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one()
    # The agent's reply is claimed by a sender that dies mid-send (its row stays `sending`, lease expired).
    monkeypatch.setattr(outbox, "deliver", lambda *a, **k: None)  # nothing sends while we stage the crash
    h = make.token(make.agent("agent", [brand]))
    client.post(f"/api/v1/conversations/{conv.id}/messages", json={"body": "在的"}, headers=h)
    monkeypatch.undo()
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id)).one()
    row.status, row.attempts, row.next_attempt_at = "sending", 1, utcnow() - timedelta(seconds=1)
    db.commit()
    assert outbox.deliver(row.id, session_factory) is None
    db.refresh(row)
    assert row.status == "unknown" and "not re-sent" in (row.last_error or "")
    unknown = client.get("/api/v1/channels/outbox", params={"status": "unknown"}, headers=h).json()
    assert [x["id"] for x in unknown] == [row.id]

    echo = {"sender": {"id": "PAGE"}, "recipient": {"id": "PSIDX"}, "timestamp": 1_700_000_000_900}
    echo["message"] = {"mid": "mid.out.1", "is_echo": True, "text": "在的", "metadata": f"kefu:{row.idempotency_key}"}
    other_app = {"sender": {"id": "PAGE"}, "recipient": {"id": "PSIDX"}, "timestamp": 1_700_000_000_950}
    other_app["message"] = {"mid": "mid.out.2", "is_echo": True, "text": "from another tool"}
    assert _post(client, ib.id, _body(echo, other_app)).status_code == 200
    db.refresh(row)
    assert row.status == "sent" and row.provider_message_id == "mid.out.1"
    assert db.scalars(select(Conversation).where(Conversation.inbox_id == ib.id)).one().id == conv.id
