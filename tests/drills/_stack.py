"""Exactly-once drill harness: a LINE API fake that behaves like LINE on retries, webhook senders, a TCP proxy
that can cut database connections, and the counts every drill ends with (acked = stored, reactions = customer
messages, one send per bot reply, nothing stuck)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.channels.conftest import line_body, line_sign, line_text
from tests.drills.conftest import SECRET


class FakeLine:
    """LINE Messaging API: single-use reply tokens (400 on reuse), push deduplicated by X-Line-Retry-Key (409).

    `delivered` is what customers saw. `fail_next` answers that many sends with 500 *after* delivering them when
    `fail_after_delivery` is set (the provider did it, the caller never heard), else before.
    """

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str, str]] = []  # (mode, user, text)
        self.requests = 0
        self.refused = 0  # duplicates LINE refused: a used reply token (400) or a seen retry key (409)
        self.fail_next = 0
        self.fail_after_delivery = False
        # Called (outside the lock) after a delivery, before the answer: e.g. cut the database right then.
        self.on_delivery: Any = None
        self._tokens: set[str] = set()
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                status, payload, headers = fake.handle(self.path, body, dict(self.headers))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                raw = json.dumps({"displayName": "Drill", "userId": self.path.rsplit("/", 1)[-1]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL for the inbox's api_base."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """One API call."""
        texts = " | ".join(str(m.get("text")) for m in body.get("messages", []))
        with self._lock:
            self.requests += 1
            fail = self.fail_next > 0
            if fail:
                self.fail_next -= 1
            if fail and not self.fail_after_delivery:
                return 500, {"message": "internal error"}, {}
            if path.endswith("/reply"):
                token = str(body.get("replyToken"))
                if token in self._tokens:
                    self.refused += 1
                    return 400, {"message": "Invalid reply token"}, {}
                self._tokens.add(token)
                self.delivered.append(("reply", token.removeprefix("rt-"), texts))
            elif path.endswith("/push"):
                key = {k.lower(): v for k, v in headers.items()}.get("x-line-retry-key", "")
                if key and key in self._keys:
                    self.refused += 1
                    return 409, {"message": "duplicate"}, {"x-line-accepted-request-id": key}
                self._keys.add(key)
                self.delivered.append(("push", str(body.get("to")), texts))
            else:
                return 404, {"message": "not found"}, {}
            delivered = len(self.delivered)
        if self.on_delivery is not None:
            self.on_delivery(delivered)
        if fail:
            return 500, {"message": "internal error"}, {}
        return 200, {"sentMessages": [{"id": uuid.uuid4().hex[:12], "quoteToken": "q"}]}, {}

    def per_user(self) -> dict[str, int]:
        """Sends each customer received."""
        with self._lock:
            out: dict[str, int] = {}
            for _, user, _ in self.delivered:
                out[user] = out.get(user, 0) + 1
            return out

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Burst:
    """New customers each sending one signed message, redelivered like LINE until acknowledged."""

    urls: list[str]
    users: list[str]
    threads: int = 6
    acked: list[str] = field(default_factory=list)
    retries: int = 0
    unexpected: list[int] = field(default_factory=list)
    pause: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, deadline: float = 120.0) -> None:
        """Send every user's message (round-robin over the servers); returns when all are acknowledged."""
        todo = list(self.users)
        workers = [threading.Thread(target=self._work, args=(todo, deadline), daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(deadline + 10)

    def start(self, deadline: float = 120.0) -> threading.Thread:
        """run() in the background."""
        t = threading.Thread(target=self.run, args=(deadline,), daemon=True)
        t.start()
        return t

    def _work(self, todo: list[str], deadline: float) -> None:
        end = time.monotonic() + deadline
        with httpx.Client(timeout=10) as http:
            while True:
                with self._lock:
                    if not todo:
                        return
                    user = todo.pop()
                event_id = f"E-{user}"
                body = line_body(line_text(event_id, user, "你好，請問營業時間？", reply_token=f"rt-{user}"))
                headers = {"X-Line-Signature": line_sign(SECRET, body), "Content-Type": "application/json"}
                n = sum(map(ord, user))  # spread customers over the servers; a failure moves to the next
                while time.monotonic() < end:
                    url = self.urls[n % len(self.urls)]
                    n += 1
                    try:
                        r = http.post(url, content=body, headers=headers)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code == 200:
                        with self._lock:
                            self.acked.append(event_id)
                        break
                    if r is not None and r.status_code < 500:
                        self.unexpected.append(r.status_code)
                        break
                    with self._lock:
                        self.retries += 1
                    time.sleep(0.2)
                if self.pause:
                    time.sleep(self.pause)


def counts(db_url: str, inbox_id: int, fake: FakeLine) -> dict[str, Any]:
    """Everything a drill asserts on, from the database and from what the provider delivered."""
    from sqlalchemy import func, select

    from kefu.channels.models import InboundEvent, OutboxMessage
    from kefu.conversations.models import Conversation, Message
    from kefu.core.db import Database
    from kefu.core.models import Job

    database = Database(db_url)
    try:
        with database.session() as s:
            events = dict(
                s.execute(
                    select(InboundEvent.provider_id, func.count(InboundEvent.id))
                    .where(InboundEvent.inbox_id == inbox_id)
                    .group_by(InboundEvent.provider_id)
                ).all()
            )
            msgs = list(
                s.execute(
                    select(Message.provider_message_id, Message.sender_type, Message.meta, Message.conversation_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Conversation.inbox_id == inbox_id)
                )
            )
            outbox = dict(
                s.execute(
                    select(OutboxMessage.status, func.count(OutboxMessage.id))
                    .where(OutboxMessage.inbox_id == inbox_id)
                    .group_by(OutboxMessage.status)
                ).all()
            )
            # Periodic jobs come and go on the scheduler's cadence; everything else must be gone.
            not_periodic = Job.key.is_(None) | ~Job.key.startswith("periodic:")
            jobs = dict(
                s.execute(select(Job.status, func.count(Job.id)).where(not_periodic).group_by(Job.status)).all()
            )
            pending_events = s.scalar(
                select(func.count(InboundEvent.id)).where(
                    InboundEvent.inbox_id == inbox_id, InboundEvent.status != "processed"
                )
            )
    finally:
        database.dispose()
    customer = [m for m in msgs if m.sender_type == "customer"]
    per_pid: dict[str, int] = {}
    for m in customer:
        per_pid[str(m.provider_message_id)] = per_pid.get(str(m.provider_message_id), 0) + 1
    bot_per_conv: dict[int, int] = {}
    for m in msgs:
        if m.sender_type == "bot":
            bot_per_conv[m.conversation_id] = bot_per_conv.get(m.conversation_id, 0) + 1
    sends = fake.per_user()
    return {
        "stored": len(events),
        "stored_twice": sum(1 for n in events.values() if n != 1),
        "messages": len(per_pid),
        "messages_twice": sum(1 for n in per_pid.values() if n != 1),
        "reactions": sum(1 for m in customer if (m.meta or {}).get("bot_handled")),
        "bot_replies": sum(bot_per_conv.values()),
        "convs_with_two_replies": sum(1 for n in bot_per_conv.values() if n != 1),
        "sends": sum(sends.values()),
        "users_sent_twice": sum(1 for n in sends.values() if n > 1),
        "outbox": outbox,
        "jobs_left": jobs,
        "events_not_processed": int(pending_events or 0),
    }


def settled(c: dict[str, Any], n: int) -> bool:
    """Every message stored, reacted to, replied to and sent; no job left."""
    done = c["outbox"].get("sent", 0) + c["outbox"].get("unknown", 0)
    return (
        c["messages"] == n
        and c["reactions"] == n
        and c["bot_replies"] >= n
        and done >= c["bot_replies"]
        and not c["jobs_left"].get("pending")
        and not c["jobs_left"].get("running")
    )


def assert_exactly_once(c: dict[str, Any], acked: list[str]) -> None:
    """acked = stored = messages; reactions = customer messages; one reply and one send per customer; 0 stuck."""
    n = len(set(acked))
    assert len(acked) == n
    assert c["stored"] == n and c["stored_twice"] == 0, c
    assert c["messages"] == n and c["messages_twice"] == 0, c
    assert c["reactions"] == n, c
    assert c["bot_replies"] == n and c["convs_with_two_replies"] == 0, c
    assert c["users_sent_twice"] == 0, c
    assert c["sends"] == n, c
    assert c["events_not_processed"] == 0, c
    assert c["jobs_left"] == {}, c
    assert set(c["outbox"]) <= {"sent", "unknown"}, c


class CutProxy:
    """TCP proxy to PostgreSQL; cut() drops every connection and refuses new ones until heal()."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(200)
        self.port = self.sock.getsockname()[1]
        self.down = False
        self.cuts = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket cut() closed
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """Every open connection dies at once (RST) and new ones are refused."""
        self.down = True
        self.cuts += 1
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass

    def heal(self) -> None:
        """Accept connections again."""
        self.down = False

    def close(self) -> None:
        """Stop."""
        self._stop = True
        self.cut()
        self.sock.close()
