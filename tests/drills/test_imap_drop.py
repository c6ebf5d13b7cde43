"""Drill: the IMAP connection is cut mid-FETCH, several times; the poller resumes by UID and stores every mail once."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import free_port, kefu_cmd, wait_http
from tests.drills.conftest import drill_env, seed, start, tail, wait_for

MAILS = 120  # the poller fetches 50 UIDs per round trip, so cuts land inside different batches
# Server→client bytes each successive connection may carry before the proxy cuts it (None: untouched).
BUDGETS = [20_000, 150_000, 60_000]


class CuttingProxy:
    """Loopback TCP proxy that drops connection k after BUDGETS[k] bytes from the server."""

    def __init__(self, target: tuple[str, int], budgets: list[int]) -> None:
        self.target, self.budgets = target, list(budgets)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.cuts = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            budget = self.budgets[self.connections] if self.connections < len(self.budgets) else None
            self.connections += 1
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, budget), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, budget: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(16384):
                if budget is not None and sent + len(data) >= budget:
                    dst.sendall(data[: budget - sent])
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):  # a cut (or a normal end) closes both directions, like a dropped NAT entry
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        """Stop accepting."""
        self._stop.set()
        self.listener.close()


@pytest.mark.slow
def test_imap_connection_cut_mid_fetch_resumes_by_uid_without_duplicates(
    fresh_db: str, dovecot: dict[str, Any], tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from imapclient import IMAPClient

    from kefu.channels.models import ImapCursor, InboundEvent
    from kefu.conversations.models import Message
    from kefu.core.db import Database

    imap = IMAPClient(dovecot["host"], port=dovecot["port"], ssl=False)
    imap.login(dovecot["user"], dovecot["password"])
    ids = []
    for i in range(MAILS):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = f"c{i}@example.com", "support@shop.example", f"訂單 {i}"
        m["Message-ID"] = make_msgid(idstring=f"drill{i}", domain="example.com")
        m.set_content(f"第 {i} 封信。\n" + "請協助查詢訂單狀態，謝謝。" * 60)
        ids.append(m["Message-ID"])
        imap.append("INBOX", m.as_bytes())
    imap.logout()

    proxy = CuttingProxy((dovecot["host"], dovecot["port"]), BUDGETS)
    cfg = {
        "address": "support@shop.example",
        "imap_host": "127.0.0.1",
        "imap_port": proxy.port,
        "imap_ssl": False,
        "imap_user": dovecot["user"],
        "imap_password": dovecot["password"],
        "imap_poll_seconds": 1,  # whole seconds (validated inbox setting)
        "timeout": 5,
    }
    inbox_id = seed(fresh_db, "email", cfg)["inbox_id"]
    port = free_port()
    start(procs, kefu_cmd("serve", "--port", str(port)), drill_env(fresh_db, tmp_path), tmp_path / "serve.log")
    database = Database(fresh_db)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)

        def stored() -> int:
            with database.session() as db:
                return int(db.scalar(select(func.count(Message.id)).where(Message.channel == "email")) or 0)

        try:
            wait_for(lambda: stored() >= MAILS, 60, "every mail to be stored")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {stored()} stored\n{tail(tmp_path / 'serve.log')}") from None
        # Let a few more polls run: nothing new may appear.
        polls = proxy.connections
        wait_for(lambda: proxy.connections >= polls + 2, 10, "further polls")
        with database.session() as db:
            per_id = dict(
                db.execute(
                    select(Message.provider_message_id, func.count(Message.id))
                    .where(Message.channel == "email")
                    .group_by(Message.provider_message_id)
                ).all()
            )
            events = db.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.inbox_id == inbox_id))
            cursor = db.get(ImapCursor, inbox_id)
            assert cursor is not None
            last_uid = cursor.last_uid
    finally:
        database.dispose()
        proxy.close()
    assert proxy.cuts >= len(BUDGETS), f"only {proxy.cuts} cuts"
    assert len(per_id) == MAILS and set(per_id.values()) == {1}
    assert {pid.strip("<>") for pid in per_id} == {i.strip("<>") for i in ids}
    assert events == MAILS and last_uid == MAILS
    print(json.dumps({"mails": MAILS, "connections": proxy.connections, "cuts": proxy.cuts}))
