"""Send one built message over SMTP with a given relay configuration (inbox replies and system mail share it)."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

# How long to wait for the answer to QUIT once the message is queued: nothing depends on it.
QUIT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    """Where and how to hand a message over: host, port, TLS mode, optional login, connect/IO timeout."""

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0

    @classmethod
    def from_inbox(cls, config: Mapping[str, Any], timeout: float | None = None) -> SmtpRelay:
        """The relay of an email inbox's settings (smtp_host, smtp_port, smtp_user, smtp_password, smtp_starttls…)."""
        return cls(
            host=str(config.get("smtp_host") or ""),
            port=int(config.get("smtp_port") or 25),
            user=str(config["smtp_user"]) if config.get("smtp_user") else None,
            password=str(config.get("smtp_password") or ""),
            starttls=bool(config.get("smtp_starttls")),
            ssl=bool(config.get("smtp_ssl")),
            timeout=float(timeout if timeout is not None else config.get("timeout", 30)),
        )


def deliver(
    relay: SmtpRelay,
    msg: EmailMessage,
    *,
    envelope_from: str,
    to_addrs: Sequence[str],
    deadline: float | None = None,
) -> dict[str, Any]:
    """Hand `msg` to the relay; returns the refused recipients (smtplib's and OSError exceptions propagate).

    `timeout` bounds each socket operation; `deadline` (seconds) the whole conversation: a relay answering every
    step slowly (a tarpit) would otherwise keep a send going past the outbox's lease, when another sender takes
    the row over and the customer gets the mail twice. At the deadline the connection is cut (an OSError here).
    """
    started = time.monotonic()
    opened: list[smtplib.SMTP] = []  # the watchdog cuts what is open when it fires
    watchdog = _cut_after(opened, deadline) if deadline is not None else None
    try:
        smtp: smtplib.SMTP
        if relay.ssl:
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout, context=context)
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
        opened.append(smtp)
        if deadline is not None and time.monotonic() - started >= deadline:  # it fired while we connected
            smtp.close()
            raise TimeoutError(f"SMTP relay too slow: no message handed over within {deadline:g}s")
        try:
            if relay.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if relay.user:
                smtp.login(relay.user, relay.password or "")
            refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=list(to_addrs))
        except BaseException:
            smtp.close()
            raise
        _goodbye(smtp)
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return dict(refused)


def _goodbye(smtp: smtplib.SMTP) -> None:
    """QUIT after the relay queued the message: whatever it answers (an error, garbage, a reset, nothing) is ignored."""
    # The 250 after DATA is the relay taking the mail; `with smtp` raised on a QUIT answered 421/554/garbage, so the
    # outbox retried (or failed) a message already on its way, and a silent relay held the send a whole step timeout.
    try:
        if smtp.sock is not None:
            smtp.sock.settimeout(min(QUIT_TIMEOUT_SECONDS, smtp.timeout))
        smtp.docmd("QUIT")
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        smtp.close()


def _cut_after(opened: list[smtplib.SMTP], seconds: float) -> threading.Timer:
    """A timer that shuts the SMTP connection's socket down, waking whatever read or write is blocked on it."""

    def cut() -> None:
        for smtp in opened:
            sock = getattr(smtp, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(seconds, 0.0), cut)
    timer.daemon = True
    timer.start()
    return timer
