"""Fault drills 3 (branch faults2): dependencies failing after they accepted the work, or in a way that looks like a
configuration mistake. Exactly-once where the other side said yes; a clear line where an operator must act."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest


class AcceptThenFailRelay:
    """An SMTP relay that queues the message (250 after DATA) and then fails the QUIT: `how` is "reset" (a TCP
    reset), "421" / "554" (an error reply), "garbage" (not SMTP) or "hang" (never answers)."""

    def __init__(self, how: str) -> None:
        self.how, self.accepted = how, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import struct

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as rfile:
                try:
                    conn.sendall(b"220 relay ESMTP\r\n")
                    while line := rfile.readline():
                        verb = line[:4].upper()
                        if verb == b"DATA":
                            conn.sendall(b"354 go ahead\r\n")
                            while rfile.readline() not in (b".\r\n", b""):
                                pass
                            conn.sendall(b"250 2.0.0 queued as 1\r\n")
                            self.accepted += 1
                        elif verb == b"QUIT":
                            if self.how == "reset":  # SO_LINGER 0: close() sends RST instead of FIN
                                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            elif self.how == "hang":
                                self.done.wait(10)
                            elif self.how == "garbage":
                                conn.sendall(b"<html>502 Bad Gateway</html>\r\n")
                            else:
                                conn.sendall(self.how.encode() + b" 4.3.0 try later\r\n")
                            break
                        else:
                            conn.sendall(b"250 ok\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.done.set()
        self.sock.close()


def _email_ctx(port: int) -> Any:
    from kefu.channels.base import SendContext

    cfg = {"address": "support@shop.example", "smtp_host": "127.0.0.1", "smtp_port": port, "timeout": 5}
    payload = {"text": "已為您補寄。", "subject": "Re: 訂單", "message_id": "<drill-2@shop.example>", "attachments": []}
    return SendContext(1, cfg, "amy@example.com", payload, "k-2", 1)


@pytest.mark.parametrize("how", ["reset", "421", "554", "garbage", "hang"])
def test_a_relay_that_queued_the_reply_then_failed_the_quit_counts_as_sent(how: str) -> None:
    """250 after the data is the relay taking responsibility for the mail; what happens at QUIT cannot undo it.
    Before: a 421 / garbage answer to QUIT raised, so the outbox retried and the customer got the reply twice; a 554
    marked it failed (the agent resends it by hand: twice again); a silent relay held the send for the per-step
    timeout."""
    import time

    from kefu.channels.base import get_adapter

    relay = AcceptThenFailRelay(how)
    adapter = get_adapter("email")
    assert adapter is not None
    t0 = time.monotonic()
    try:
        result = adapter.send(_email_ctx(relay.port))
        took = time.monotonic() - t0
    finally:
        relay.close()
    assert relay.accepted == 1 and result.provider_message_id == "<drill-2@shop.example>"
    assert took < 2.5, took  # a relay silent after the 250 costs a short goodbye wait, not the 5 s step timeout


@pytest.fixture
def data(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A data dir of the test's own, with the attachment folder in place (a running install has one)."""
    root = tmp_path / "data"
    (root / "attachments").mkdir(parents=True)
    monkeypatch.setenv("KEFU_DATA_DIR", str(root))
    return root


def test_an_unwritable_data_dir_is_named_as_a_permission_mistake_by_the_probe(data: Any) -> None:
    """A real EACCES: the probe runs as an unprivileged user against a data dir root owns (a volume mounted with
    the wrong owner). The line names the path and says it is configuration, not capacity."""
    import os
    import subprocess
    import sys

    os.chmod(data / "attachments", 0o755)  # others may list it, not write it
    # Imported first: the unprivileged user cannot read the interpreter's own library.
    code = "import os; from kefu.channels.storage import data_dir, probe; data_dir(); "
    code += "os.setgid(65534); os.setuid(65534); print(probe())"
    if os.geteuid() != 0:
        code = "from kefu.channels.storage import probe; print(probe())"
        os.chmod(data / "attachments", 0o555)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=True
    ).stdout.strip()
    assert out.startswith(f"file store {data / 'attachments'}: EACCES, permission denied: a configuration mistake")
    os.chmod(data / "attachments", 0o755)


def _refuse(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """The file store refuses a create with `code`, as the kernel does (the path in the error)."""
    import errno
    import tempfile

    import kefu.channels.storage as storage

    def refused(*args: Any, dir: Any = None, **kwargs: Any) -> Any:
        raise OSError(code, errno.errorcode[code], str(dir))

    monkeypatch.setattr(storage.tempfile, "mkstemp", refused)
    assert tempfile.mkstemp is refused  # the probe uses the module's own create


@pytest.mark.parametrize(
    ("code", "says"),
    [(13, "EACCES, permission denied: a configuration mistake"), (28, "ENOSPC, no space left on the device")],
)
def test_healthz_says_which_storage_problem_and_where_in_one_line(
    app: Any,
    client: Any,
    data: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    says: str,
) -> None:
    """Before: /healthz said "ok" while every upload answered 503, and nothing was logged at all."""
    import logging
    import tempfile

    real_mkstemp = tempfile.mkstemp
    assert client.get("/healthz").json()["storage"] is True
    _refuse(monkeypatch, code)
    caplog.set_level(logging.WARNING, logger="kefu")
    r = client.get("/healthz")
    # Degraded, but still in rotation: chat, tickets and the portal work without the file store.
    assert r.status_code == 200 and r.json()["status"] == "degraded"
    assert r.json()["storage"] is False and r.json()["database"] is True
    assert r.json()["storage_error"].startswith(f"file store {data / 'attachments'}: {says}")
    # The same line in the log (whose filter masks the test's own folder name, not the rest).
    assert (
        caplog.records[-1]
        .getMessage()
        .endswith(f"/data/attachments: {says}" + r.json()["storage_error"].split(says)[1])
    )
    assert [rec for rec in caplog.records if "healthz" in rec.getMessage()][-1].exc_info is None
    import kefu.channels.storage as storage

    monkeypatch.setattr(storage.tempfile, "mkstemp", real_mkstemp)
    r = client.get("/healthz")  # fixed: healthy again at the next probe
    assert r.status_code == 200 and r.json()["storage"] is True and "storage_error" not in r.json()
    assert tempfile.mkstemp is real_mkstemp


def test_healthz_is_fine_before_anything_was_stored(
    client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "not-yet"))
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["storage"] is True
    assert not (tmp_path / "not-yet").exists()  # the probe creates nothing


def test_an_upload_refused_with_eacces_answers_503_and_logs_the_path_once(
    app: Any, make: Any, db: Any, data: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests keep 503 + Retry-After (retrying is harmless), and the operator gets one line saying what to fix."""
    import errno
    import logging

    from fastapi.testclient import TestClient

    import kefu.channels.storage as storage
    from kefu.brands.service import create_inbox

    brand = make.brand()
    ib = create_inbox(db, brand, kind="web_chat", name="w", config={"initial_status": "open"}, actor=None)
    db.commit()
    target = str(data / "attachments" / str(brand.id))

    def refused(brand_id: int, data: bytes) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", target)

    with TestClient(app, raise_server_exceptions=False) as c:
        token = c.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug}).json()
        monkeypatch.setattr(storage, "write_file", refused)
        caplog.set_level(logging.WARNING, logger="kefu")
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        r = c.post(
            "/api/v1/widget/attachments",
            files={"file": ("p.png", png, "image/png")},
            headers={"X-Kefu-Visitor": token["visitor_token"]},
        )
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    lines = [rec for rec in caplog.records if "file store" in rec.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    said = lines[0].getMessage()
    assert f"/data/attachments/{brand.id}: EACCES, permission denied: a configuration mistake" in said, said


def _visitor_file(client: Any, make: Any, body: bytes) -> tuple[int, dict[str, str]]:
    """A file a visitor uploaded in the widget: (its id, the visitor's headers)."""
    from kefu.brands.service import create_inbox

    ib = create_inbox(make.db, make.brand(), kind="web_chat", name="chat", config={}, actor=None, bot=False)
    make.db.commit()
    h = {"X-Kefu-Visitor": client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]}
    up = client.post("/api/v1/widget/attachments", files={"file": ("p.png", body, "image/png")}, headers=h)
    assert up.status_code == 201, up.text
    return int(up.json()["id"]), h


PNG_BIG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1024  # 256 KiB: several chunks


def test_a_download_whose_file_is_erased_after_the_check_is_a_404_not_a_500(
    app: Any, make: Any, data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Erasure (or the orphan sweep) removes the file between the handler's existence check and the response: the
    response stat-ed the path itself and raised RuntimeError, a bare 500."""
    from fastapi.testclient import TestClient

    import kefu.channels.api as api

    with TestClient(app, raise_server_exceptions=False) as c:
        att, h = _visitor_file(c, make, PNG_BIG)
        real = api.visitor_attachment

        def then_erased(*args: Any) -> Any:
            row, path = real(*args)
            path.unlink()
            return row, path

        monkeypatch.setattr(api, "visitor_attachment", then_erased)
        r = c.get(f"/api/v1/channels/attachments/{att}", headers=h)
    assert r.status_code == 404, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("code", [13, 5])  # EACCES (a restore as another user), EIO (a failing volume)
def test_an_unreadable_download_answers_503_before_any_200(
    app: Any, make: Any, data: Any, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The response opened the file only after sending "200 OK" and a Content-Length: an unreadable file was a 200
    cut short (a browser may keep the stump as the file). Now the open comes first: 503 + Retry-After, retryable."""
    import builtins
    import errno
    import io
    import pathlib

    from fastapi.testclient import TestClient

    real = builtins.open

    def refused(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | pathlib.Path) and str(file).endswith(".bin") and "/attachments/" in str(file):
            raise OSError(code, errno.errorcode[code], str(file))
        return real(file, *args, **kwargs)

    with TestClient(app, raise_server_exceptions=False) as c:
        att, h = _visitor_file(c, make, PNG_BIG)
        for where in (builtins, io):  # whoever opens it (pathlib goes through io.open)
            monkeypatch.setattr(where, "open", refused)
        r = c.get(f"/api/v1/channels/attachments/{att}", headers=h)
        for where in (builtins, io):
            monkeypatch.setattr(where, "open", real)
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, (r.status_code, len(r.content))
        r = c.get(f"/api/v1/channels/attachments/{att}", headers=h)  # the volume is back
        assert r.status_code == 200 and r.content == PNG_BIG


def test_a_file_erased_while_it_is_being_sent_is_still_sent_whole(data: Any) -> None:
    """Once the response has its descriptor, erasure or a rename of the path cannot cut the body short."""
    from kefu.web.files import StoredFile

    path = data / "attachments" / "f.bin"
    path.write_bytes(PNG_BIG)
    response = StoredFile(path, media_type="image/png")
    path.unlink()  # after the handler returned, before (and while) the body is sent
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    import anyio

    scope = {"type": "http", "method": "GET", "headers": [], "asgi": {"spec_version": "2.4"}}
    anyio.run(response, scope, receive, send)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == PNG_BIG
    assert response._fh.closed  # no descriptor leaked


def test_an_upload_cut_off_mid_body_leaves_no_row_no_file_and_no_traceback(
    app: Any, make: Any, db: Any, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The visitor's phone loses its network halfway through a photo: the server reads half a multipart body and
    then the disconnect. Nothing may be stored, and a client going away is not a server error to log."""
    import logging

    import anyio
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from kefu.brands.service import create_inbox
    from kefu.channels.models import ChannelAttachment

    brand = make.brand()
    ib = create_inbox(db, brand, kind="web_chat", name="w", config={}, actor=None, bot=False)
    db.commit()
    boundary = "kefuDrillBoundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + PNG_BIG + f"\r\n--{boundary}--\r\n".encode()
    with TestClient(app) as c:
        token = c.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
        caplog.set_level(logging.INFO, logger="kefu")
        sent: list[dict[str, Any]] = []
        parts = [
            {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> dict[str, Any]:
            if parts:
                return parts.pop(0)
            await anyio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/widget/attachments",
            "raw_path": b"/api/v1/widget/attachments",
            "root_path": "",
            "query_string": b"",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 5000),
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-kefu-visitor", token.encode()),
            ],
            "state": {},
        }

        async def call() -> None:
            with anyio.fail_after(10):
                await app(scope, receive, send)

        anyio.run(call)
    db.expire_all()
    n = db.scalar(select(func.count(ChannelAttachment.id)).where(ChannelAttachment.brand_id == brand.id))
    files = [p for p in (data / "attachments").rglob("*") if p.is_file()]
    assert n == 0 and files == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses in ([], [400]), statuses
