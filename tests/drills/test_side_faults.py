"""Drills on the side paths: the attachment store failing (disk full, read-only) under customer and API uploads,
Redis hanging under the event bus. A dependency that is down answers 503 + Retry-After (problem+json for the API,
the friendly page for customers) and leaves nothing behind; the next request after recovery succeeds."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class BrokenDisk:
    """Replaces the attachment store's file writer: raises OSError(code) while `broken`, else writes as usual."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
        import kefu.channels.storage as storage

        self.code, self.broken, self.real = code, True, storage.write_file
        monkeypatch.setattr(storage, "write_file", self)

    def __call__(self, brand_id: int, data: bytes) -> tuple[str, str]:
        if self.broken:
            raise OSError(self.code, errno.errorcode[self.code])
        return self.real(brand_id, data)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))


def _inbox(db: Any, brand: Any, kind: str) -> Any:
    from kefu.brands.service import create_inbox

    row = create_inbox(db, brand, kind=kind, name=kind, config={"initial_status": "open"}, actor=None)
    db.commit()
    return row


@pytest.fixture
def lenient(app: Any) -> Iterator[TestClient]:
    """A client that sees the server's answer to an unhandled error (the default client re-raises it)."""
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def _attachments(db: Any, brand_id: int) -> int:
    from kefu.channels.models import ChannelAttachment

    return int(db.scalar(select(func.count(ChannelAttachment.id)).where(ChannelAttachment.brand_id == brand_id)))


def assert_unavailable_json(r: Any) -> None:
    """503 problem+json with a Retry-After the client can honour."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert int(r.headers["retry-after"]) > 0 and r.json()["status"] == 503


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_widget_upload_on_a_full_disk_answers_503_then_recovers(
    lenient: TestClient, make: Any, db: Any, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    brand = make.brand()
    ib = _inbox(db, brand, "web_chat")
    token = lenient.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug}).json()
    vh = {"X-Kefu-Visitor": token["visitor_token"], "Accept-Language": "zh-TW"}
    disk = BrokenDisk(monkeypatch, code)
    r = lenient.post("/api/v1/widget/attachments", files={"file": ("p.png", PNG, "image/png")}, headers=vh)
    assert_unavailable_json(r)
    assert "儲存空間" in r.json()["detail"]  # the visitor's language, and the store, not "the database"
    assert _attachments(db, brand.id) == 0
    disk.broken = False  # space freed: the same request goes through, no restart
    r = lenient.post("/api/v1/widget/attachments", files={"file": ("p.png", PNG, "image/png")}, headers=vh)
    assert r.status_code == 201, r.text
    assert _attachments(db, brand.id) == 1


def test_portal_submission_on_a_full_disk_shows_the_friendly_page_and_stores_nothing(
    lenient: TestClient, make: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.tickets.models import Ticket

    brand = make.brand()
    _inbox(db, brand, "board")
    assert lenient.get(f"/portal/{brand.slug}/new").status_code == 200
    form = {
        "csrf_token": str(lenient.cookies.get("kefu_portal_csrf")),
        "name": "陳小姐",
        "contact": "chen@example.com",
        "subject": "商品瑕疵",
        "message": "收到的杯子有裂痕",
        "submission_id": "s-disk-full-1",
    }
    files = [("files", ("裂痕.png", PNG, "image/png"))]
    disk = BrokenDisk(monkeypatch, errno.ENOSPC)
    r = lenient.post(f"/portal/{brand.slug}/new", data=form, files=files)
    assert r.status_code == 503, r.text[:500]
    assert r.headers["content-type"].startswith("text/html") and int(r.headers["retry-after"]) > 0
    assert "Traceback" not in r.text and "OSError" not in r.text
    tickets = select(func.count(Ticket.id)).where(Ticket.brand_id == brand.id)
    assert db.scalar(tickets) == 0 and _attachments(db, brand.id) == 0  # the whole submission rolled back
    disk.broken = False
    r = lenient.post(f"/portal/{brand.slug}/new", data=form, files=files)  # the customer presses send again
    assert r.status_code == 200, r.text[:500]
    assert db.scalar(tickets) == 1 and _attachments(db, brand.id) == 1


def test_storage_outage_rule_follows_wrapped_errors() -> None:
    from kefu.core.errors import storage_unavailable
    from kefu.web.problem_text import outage_reason
    from kefu.web.problems import server_error

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("while storing an attachment") from inner
    except RuntimeError as exc:
        wrapped = exc
    assert storage_unavailable(wrapped) and outage_reason(wrapped) == "storage"
    assert server_error(wrapped, "/x").status_code == 503
    assert not storage_unavailable(FileNotFoundError(errno.ENOENT, "gone"))  # a missing file is not an outage
    assert not storage_unavailable(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert server_error(ValueError("bug"), "/x").status_code == 500


def test_one_storage_predicate_decides_both_the_503_and_its_wording() -> None:
    """problem_text's cause walk asks core.errors which exception is the store failing (no errno list of its own)."""
    import inspect

    from kefu.core.errors import is_storage_error
    from kefu.web import problem_text

    assert is_storage_error(OSError(errno.EROFS, "read-only")) and not is_storage_error(OSError(errno.ENOENT, "x"))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = OSError(errno.ENOSPC, "full")
    assert not is_storage_error(wrapped)  # per exception: the walks over a chain live in their callers
    source = inspect.getsource(problem_text.outage_reason)
    assert "is_storage_error(exc)" in source and "STORAGE_ERRNOS" not in source


def test_a_hanging_redis_costs_one_publish_a_bounded_wait_not_every_event() -> None:
    """Redis accepts the connection and never answers (a stopped server, a black-holed network): PUBLISH runs after
    the commit in the request thread, so each event must not wait out a long timeout."""
    import socket
    import time

    from kefu.core.events import PUBLISH_TIMEOUT_SECONDS, Event, RedisBus

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # the kernel completes the handshake; nobody ever reads or answers
    try:
        bus = RedisBus(f"redis://127.0.0.1:{hole.getsockname()[1]}/0", "drill")
        seen: list[str] = []
        bus.add_listener(lambda e: seen.append(e.type))
        t0 = time.monotonic()
        for n in range(6):  # a burst of requests each committing an event
            bus.publish(Event(type=f"e{n}", data={}))
        took = time.monotonic() - t0
    finally:
        hole.close()
    assert seen == [f"e{n}" for n in range(6)]  # this process's listeners got every event, in order
    # Before: 5 s per event (30 s here). Now: one timeout (plus redis-py's retries of it), then local delivery.
    assert took < 4 * PUBLISH_TIMEOUT_SECONDS + 1, took


def _db_gone() -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def _close_code(ws: Any) -> int:
    """Send a ping; the code of the close that comes instead of the pong (a live socket answers pong)."""
    import json

    from starlette.websockets import WebSocketDisconnect

    ws.send_text(json.dumps({"op": "ping"}))
    try:
        while True:
            frame = json.loads(ws.receive_text())
            assert frame["op"] != "pong", "the socket still answers pings but its sender died: nothing reaches it"
    except WebSocketDisconnect as exc:
        return int(exc.code)


def test_agent_socket_whose_recheck_meets_a_dead_database_closes_with_1013(
    client: TestClient, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import kefu.web.ws as ws_module

    brand = make.brand()
    token = make.token(make.agent("agent", [brand]))["Authorization"].split()[1]
    monkeypatch.setattr(ws_module, "RECHECK_SECONDS", 0.2)

    def gone(*args: Any) -> bool:
        raise _db_gone()

    monkeypatch.setattr(ws_module, "_still_valid", gone)
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert "hello" in ws.receive_text()
        time.sleep(0.5)  # the sender's scheduled credential check runs into the outage
        assert _close_code(ws) == 1013  # try again later: the console reconnects
    monkeypatch.undo()  # the database is back: the reconnect is served
    with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
        assert "hello" in ws.receive_text()


def test_widget_socket_whose_live_read_back_fails_closes_so_the_visitor_resumes(
    client: TestClient, make: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import kefu.channels.web_chat.api as widget_api

    brand = make.brand()
    ib = _inbox(db, brand, "web_chat")
    h = make.token(make.agent("agent", [brand]))
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug}).json()
    token = token["visitor_token"]
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:
        assert json.loads(ws.receive_text())["op"] == "hello"
        ws.send_text(json.dumps({"op": "message", "body": "在嗎？", "client_id": "c1"}))
        while (frame := json.loads(ws.receive_text()))["op"] != "ack":
            pass
        conv_id, last_id = frame["message"]["conversation_id"], frame["message"]["id"]

        async def gone(*args: Any) -> None:
            raise _db_gone()

        monkeypatch.setattr(widget_api, "_live_agent_message", gone)  # the database drops as a reply arrives
        r = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "在的，請說"}, headers=h)
        assert r.status_code == 201, r.text
        assert _close_code(ws) == 1013
    monkeypatch.undo()
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:  # the widget reconnects and resumes
        assert json.loads(ws.receive_text())["op"] == "hello"
        ws.send_text(json.dumps({"op": "resume", "last_id": last_id}))
        got = []
        while (frame := json.loads(ws.receive_text()))["op"] != "resumed":
            got += [frame["message"]["body"]] if frame["op"] == "message" else []
        assert got == ["在的，請說"]  # the reply the dead socket would never have shown


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_cli_with_the_database_away_says_so_in_one_line_and_exits_75(tmp_path: Any, backend: str) -> None:
    """PostgreSQL unreachable (a closed port); SQLite locked by another program beyond the write-wait budget."""
    import os
    import sqlite3
    import subprocess

    from kefu.core.migrate import upgrade
    from tests.conftest import free_port, kefu_cmd

    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(KEFU_ENV="test", KEFU_SECRET_KEY=os.environ["KEFU_SECRET_KEY"], KEFU_DB_WRITE_WAIT_SECONDS="1")
    env.update(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_NEW_PASSWORD="long password 1")
    args = ["user", "create", "--email", "cli@example.com", "--name", "CLI"]
    other = None
    if backend == "sqlite":
        path = tmp_path / "kefu.db"
        upgrade(f"sqlite:///{path}")
        env["KEFU_DATABASE_URL"] = f"sqlite:///{path}"
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the sqlite3 shell or a backup tool holds the write lock
    else:
        env["KEFU_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/kefu"  # nothing listens there
    try:
        done = subprocess.run(kefu_cmd(*args), env=env, capture_output=True, text=True, timeout=120)
    finally:
        if other is not None:
            other.rollback()
            other.close()
    assert done.returncode == 75, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "database cannot serve now" in done.stderr, done.stderr[-2000:]
    assert len(done.stderr.strip().splitlines()) == 2, done.stderr


def _away_url(tmp_path: Any, backend: str) -> str:
    """A database that cannot serve: PostgreSQL on a port nothing listens on; SQLite a file that cannot be read as
    a database (a wrong or damaged volume mounted where the file was)."""
    from tests.conftest import free_port

    if backend == "sqlite":
        path = tmp_path / "kefu.db"
        path.write_bytes(b"\x00garbage, not an SQLite header" * 200)
        return f"sqlite:///{path}"
    return f"postgresql://postgres@127.0.0.1:{free_port()}/kefu"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_smtp_receiver_with_the_database_away_answers_451_at_rcpt_never_a_bounce(tmp_path: Any, backend: str) -> None:
    """aiosmtpd answers a handler's exception with 500 (permanent: the sending server bounces the mail, lost)."""
    import smtplib
    from email.message import EmailMessage

    from kefu.channels.email.receiver import start_receiver
    from kefu.core.db import Database
    from tests.conftest import free_port

    database = Database(_away_url(tmp_path, backend))
    controller = start_receiver("127.0.0.1", free_port(), database.sessionmaker)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "amy@example.com", "support@shop.example", "訂單沒到"
    msg.set_content("我上週訂的商品還沒到。")
    try:
        with (
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
            smtplib.SMTP(controller.hostname, controller.port, timeout=30) as s,
        ):
            s.send_message(msg)
    finally:
        controller.stop()
        database.dispose()
    code, text = refused.value.recipients["support@shop.example"]
    assert 400 <= code < 500, (code, text)  # temporary: the sender keeps the mail and retries
    assert b"Error" not in text and b"sqlalchemy" not in text.lower(), text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_background_loops_ride_out_a_database_outage_quietly(
    tmp_path: Any, backend: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler ticks every second and the channel sweep every few: a traceback per tick for a whole outage
    filled the log (and the disk the database may share). One warning, waits growing to 5 s, then recovery."""
    import logging
    import time

    from kefu.channels import background as bg
    from kefu.core.db import Database
    from kefu.core.scheduler import Scheduler

    monkeypatch.setattr(bg.config, "sweep_seconds", lambda: 0.05)
    other = None
    if backend == "sqlite":  # locked by another program beyond the (short) write-wait budget
        import sqlite3

        from kefu.core.migrate import upgrade

        upgrade(f"sqlite:///{tmp_path / 'kefu.db'}")
        database = Database(f"sqlite:///{tmp_path / 'kefu.db'}", write_wait=0.2)
        other = sqlite3.connect(tmp_path / "kefu.db", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    else:
        database = Database(_away_url(tmp_path, backend))
    scheduler = Scheduler(database.sessionmaker, tick=0.05)
    sweeper = bg.Background(database.sessionmaker, smtp=False)
    caplog.set_level(logging.DEBUG, logger="kefu")
    scheduler.start()
    sweeper.start()
    try:
        time.sleep(2.0)  # 40 ticks of each loop at their own pace
    finally:
        scheduler.stop()
        sweeper.stop()
        database.dispose()
        if other is not None:
            other.rollback()
            other.close()
    for name in ("kefu.scheduler", "kefu.channels.background"):
        records = [r for r in caplog.records if r.name == name and r.levelno >= logging.WARNING]
        assert len(records) <= 2, [r.getMessage()[:120] for r in records]  # the sweep only reads: SQLite serves it
        assert not any(r.exc_info for r in records), name  # one line each, no traceback
    assert any(r.name == "kefu.scheduler" and "cannot serve" in r.getMessage() for r in caplog.records)
    assert not scheduler.leading


def test_loop_outage_backs_off_and_reports_recovery(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from kefu.core.retry import LoopOutage

    outage = LoopOutage(logging.getLogger("kefu.test"), "drill loop", cap=5.0)
    waits = [outage.failed(_db_gone(), 1.0) for _ in range(8)]
    assert all(1.0 <= w <= 5.0 for w in waits) and max(waits) > 2.0  # grows from the interval, capped
    outage.ok()
    assert outage.streak == 0 and "back after 8" in caplog.text
    assert outage.failed(ValueError("a bug"), 1.0) == 1.0  # not an outage: the loop's pace, with its traceback
    assert any(r.exc_info for r in caplog.records)


class TarpitRelay:
    """An SMTP relay that answers every step correctly but `delay` seconds late (a tarpit, an overloaded relay)."""

    def __init__(self, delay: float) -> None:
        import socket
        import threading

        self.delay, self.accepted = delay, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import time

        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as rfile:

            def say(line: str) -> None:
                time.sleep(self.delay)
                conn.sendall(line.encode() + b"\r\n")

            try:
                say("220 tarpit ESMTP")
                while line := rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        say("354 go ahead")
                        while rfile.readline() not in (b".\r\n", b""):
                            pass
                        say("250 queued")
                        self.accepted += 1
                    elif verb == b"QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def test_a_tarpit_relay_is_cut_at_the_deadline_inside_the_outbox_lease() -> None:
    """Each step answers within the per-step timeout, the whole takes longer than the outbox lease: past the lease
    another sender takes the row over and mails the customer a second time. The send is cut at its deadline."""
    import time
    from email.message import EmailMessage

    from kefu.channels.email.smtp import SmtpRelay, deliver

    relay = TarpitRelay(delay=0.4)  # banner, EHLO, MAIL, RCPT, DATA, end of data: 2.4 s in all
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "support@shop.example", "amy@example.com", "Re: 訂單"
    msg.set_content("已為您補寄。")
    t0 = time.monotonic()
    try:
        with pytest.raises(OSError):  # smtplib's disconnect errors are OSErrors too: the adapter retries them
            deliver(
                SmtpRelay("127.0.0.1", relay.port, timeout=2.0),
                msg,
                envelope_from="support@shop.example",
                to_addrs=["amy@example.com"],
                deadline=1.0,
            )
        took = time.monotonic() - t0
    finally:
        relay.close()
    assert took < 1.6, took
    assert relay.accepted == 0  # cut before the end of data: nothing was handed over, the retry is the only send


def _email_ctx(port: int, attachments: list[dict[str, Any]] | None = None) -> Any:
    from kefu.channels.base import SendContext

    cfg = {"address": "support@shop.example", "smtp_host": "127.0.0.1", "smtp_port": port, "timeout": 2}
    payload = {"text": "已為您補寄。", "subject": "Re: 訂單", "message_id": "<drill-1@shop.example>"}
    return SendContext(1, cfg, "amy@example.com", {**payload, "attachments": attachments or []}, "k-1", 1)


def test_email_replies_end_inside_the_outbox_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter gives the SMTP conversation a deadline of 3/4 of KEFU_OUTBOX_SEND_LEASE_SECONDS."""
    import time

    from kefu.channels.base import get_adapter
    from kefu.channels.types import RetryableSendError

    monkeypatch.setenv("KEFU_OUTBOX_SEND_LEASE_SECONDS", "1.2")
    relay = TarpitRelay(delay=0.4)
    adapter = get_adapter("email")
    assert adapter is not None
    t0 = time.monotonic()
    try:
        with pytest.raises(RetryableSendError):
            adapter.send(_email_ctx(relay.port))
        took = time.monotonic() - t0
    finally:
        relay.close()
    assert took < 1.2, took  # over before another sender may take the row over
    assert relay.accepted == 0


@pytest.mark.parametrize("code", [errno.EIO, errno.EACCES])
def test_an_unreadable_attachment_store_retries_the_reply_instead_of_dropping_it(
    monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """A reply whose file cannot be read now (I/O error, permissions) was dead-lettered at once as "attachment gone":
    the agent's reply never went out. Only a file that is really gone is permanent."""
    import pathlib

    from kefu.channels.base import get_adapter
    from kefu.channels.config import data_dir
    from kefu.channels.types import PermanentSendError, RetryableSendError

    rel = "attachments/1/ab/drill.bin"
    (data_dir() / rel).parent.mkdir(parents=True, exist_ok=True)
    (data_dir() / rel).write_bytes(b"%PDF-1.4 receipt")
    item = {"path": rel, "filename": "收據.pdf", "content_type": "application/pdf", "size": 16}
    real = pathlib.Path.read_bytes

    def failing(self: pathlib.Path) -> bytes:
        if self.name == "drill.bin":
            raise OSError(code, errno.errorcode[code])
        return real(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", failing)
    adapter = get_adapter("email")
    assert adapter is not None
    with pytest.raises(RetryableSendError):
        adapter.send(_email_ctx(9, [item]))  # fails before any connection: nothing went out
    monkeypatch.setattr(pathlib.Path, "read_bytes", real)
    with pytest.raises(PermanentSendError) as gone:
        adapter.send(_email_ctx(9, [{**item, "path": "attachments/1/ab/erased.bin"}]))
    assert gone.value.code == "attachment_gone"  # erased: still permanent


def test_healthz_during_an_outage_logs_one_line_per_probe(
    app: Any, client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load balancers probe every few seconds: a traceback per probe for a whole outage floods the log."""
    import logging

    def away() -> Any:
        raise _db_gone()

    monkeypatch.setattr(app.state, "session_factory", away)
    caplog.set_level(logging.WARNING, logger="kefu")
    for _ in range(3):
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["database"] is False
    lines = [r for r in caplog.records if "healthz" in r.getMessage()]
    assert len(lines) == 3 and not any(r.exc_info for r in lines)
