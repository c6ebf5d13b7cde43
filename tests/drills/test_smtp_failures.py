"""Drill: the upstream SMTP relay answers 4xx (temporary) and 5xx (permanent) at RCPT and DATA; replies are retried
until sent exactly once, or dead-lettered at once."""

from __future__ import annotations

import email
import email.policy
import json
import smtplib
import subprocess
import threading
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import free_port, kefu_cmd, wait_http
from tests.drills.conftest import drill_env, seed, start, tail, wait_for

SUPPORT = "support@shop.example"
# customer local part → (where the relay fails, reply, how many times); "ok" is accepted at once.
SCRIPT = {
    "grey": ("RCPT", "451 4.7.1 Greylisted, please try again later", 2),
    "busy": ("DATA", "452 4.3.1 Insufficient system storage", 2),
    "nouser": ("RCPT", "550 5.1.1 No such user here", 99),
    "spam": ("DATA", "554 5.7.1 Message rejected as spam", 99),
    "ok": ("", "", 0),
}


class FlakyRelay:
    """aiosmtpd handler failing each scripted recipient N times at its stage, then accepting."""

    def __init__(self) -> None:
        self.failures: Counter[str] = Counter()
        self.accepted: list[EmailMessage] = []
        self.lock = threading.Lock()

    def _fail(self, stage: str, rcpt: str) -> str | None:
        where, reply, times = SCRIPT.get(rcpt.split("@")[0], ("", "", 0))
        with self.lock:
            if where == stage and self.failures[rcpt] < times:
                self.failures[rcpt] += 1
                return reply
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        """Refuse or defer scripted recipients."""
        if reply := self._fail("RCPT", address):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Refuse or defer scripted messages; keep the rest."""
        for rcpt in envelope.rcpt_tos:
            if reply := self._fail("DATA", rcpt):
                return reply
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.accepted.append(msg)
        return "250 OK"


@pytest.fixture
def relay() -> Any:
    """The flaky upstream relay on a loopback port."""
    from aiosmtpd.controller import Controller

    handler = FlakyRelay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.mark.slow
def test_smtp_temporary_failures_retry_and_permanent_ones_dead_letter(
    fresh_db: str, redis_url: str, relay: Any, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.models import Conversation, Message
    from kefu.core.db import Database

    handler, relay_port = relay
    cfg = {"address": SUPPORT, "smtp_host": "127.0.0.1", "smtp_port": relay_port, "timeout": 5}
    s = seed(fresh_db, "email", cfg)
    smtp_port, port = free_port(), free_port()
    env = drill_env(fresh_db, tmp_path, redis_url, KEFU_SMTP_PORT=str(smtp_port), KEFU_OUTBOX_MAX_ATTEMPTS="5")
    start(procs, kefu_cmd("serve", "--port", str(port)), env, tmp_path / "serve.log")
    start(procs, kefu_cmd("worker", "--concurrency", "2"), env, tmp_path / "worker.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)

    # Customers write in through kefu's own SMTP receiver.
    for local in SCRIPT:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = f"{local}@example.com", SUPPORT, f"問題 {local}"
        m["Message-ID"] = make_msgid(domain="example.com")
        m.set_content(f"{local} 的來信")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.send_message(m)
    database = Database(fresh_db)
    try:

        def conversations() -> dict[str, int]:
            with database.session() as db:
                rows = db.execute(select(Conversation.id, Conversation.subject)).all()
            return {str(subject).split()[-1]: cid for cid, subject in rows}

        convs = wait_for(lambda: (c := conversations()) and len(c) == len(SCRIPT) and c, 30, "inbound conversations")
        auth = {"Authorization": f"Bearer {s['token']}"}
        for local, cid in convs.items():
            r = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/conversations/{cid}/messages",
                json={"body": f"回覆 {local}"},
                headers=auth,
                timeout=10,
            )
            assert r.status_code == 201, r.text

        def settled() -> dict[str, OutboxMessage] | None:
            with database.session() as db:
                rows = {r.recipient.split("@")[0]: r for r in db.scalars(select(OutboxMessage))}
            done = len(rows) == len(SCRIPT) and all(r.status in ("sent", "dead") for r in rows.values())
            return rows if done else None

        try:
            rows = wait_for(settled, 40, "every reply to be sent or dead-lettered")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail(tmp_path / 'serve.log')}\n{tail(tmp_path / 'worker.log')}") from None
        with database.session() as db:
            delivery = {
                local: (db.get(Message, rows[local].message_id).meta or {}).get("delivery", {}).get("status")
                for local in SCRIPT
            }
    finally:
        database.dispose()

    summary = {k: (r.status, r.attempts) for k, r in rows.items()}
    assert summary == {
        "grey": ("sent", 3),
        "busy": ("sent", 3),
        "ok": ("sent", 1),
        "nouser": ("dead", 1),
        "spam": ("dead", 1),
    }, summary
    assert {k.split("@")[0]: n for k, n in handler.failures.items()} == {"grey": 2, "busy": 2, "nouser": 1, "spam": 1}
    assert "550" in (rows["nouser"].last_error or "") and "554" in (rows["spam"].last_error or "")
    assert delivery == {"grey": "sent", "busy": "sent", "ok": "sent", "nouser": "dead", "spam": "dead"}
    # Exactly one copy of every sent reply reached the relay.
    got = Counter(str(m["Message-ID"]) for m in handler.accepted)
    assert got == Counter({rows[k].idempotency_key: 1 for k in ("grey", "busy", "ok")})
    print(json.dumps({"outbox": summary, "relay_failures": dict(handler.failures)}))
