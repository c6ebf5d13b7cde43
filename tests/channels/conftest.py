"""Channel test helpers: a private data dir, inbox factory, fake provider APIs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.channels.fakes import FakeApi, line_default, messenger_default
from tests.channels.servers import dovecot, upstream  # noqa: F401 - mail server fixtures


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Attachments of each test go to its own directory; no retry delays."""
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEFU_OUTBOX_BASE_DELAY_SECONDS", "0")
    return tmp_path / "data"


@pytest.fixture
def inbox(db: Any) -> Any:
    """Factory: an inbox of a kind in a brand."""
    from kefu.brands.service import create_inbox

    def make(brand: Any, kind: str, config: dict[str, Any] | None = None, name: str | None = None) -> Any:
        # Transport tests talk to agents: the bot (on by default for chat inboxes) stays out unless asked for.
        config = {"initial_status": "open", **(config or {})} if kind != "email" else config
        row = create_inbox(db, brand, kind=kind, name=name or f"{kind}-inbox", config=config or {}, actor=None)
        db.commit()
        return row

    return make


@pytest.fixture
def line_api() -> Iterator[FakeApi]:
    """A local LINE Messaging API."""
    api = FakeApi(line_default)
    yield api
    api.close()


@pytest.fixture
def messenger_api() -> Iterator[FakeApi]:
    """A local Graph Send API."""
    api = FakeApi(messenger_default)
    yield api
    api.close()


def line_sign(secret: str, body: bytes) -> str:
    """X-Line-Signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hub_sign(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def line_text(
    event_id: str, user: str, text: str, reply_token: str | None = None, ts: int = 1_700_000_000_000
) -> dict[str, Any]:
    """A LINE text message event."""
    ev: dict[str, Any] = {
        "type": "message",
        "mode": "active",
        "timestamp": ts,
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "message": {"id": f"m{event_id}", "type": "text", "text": text, "quoteToken": "q"},
    }
    if reply_token:
        ev["replyToken"] = reply_token
    return ev


def line_body(*events: dict[str, Any]) -> bytes:
    """A LINE webhook body."""
    return json.dumps({"destination": "Ubot", "events": list(events)}, ensure_ascii=False).encode()
