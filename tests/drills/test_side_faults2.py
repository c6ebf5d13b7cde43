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
