"""Send one built message over SMTP with a given relay configuration (inbox replies and system mail share it)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any


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


def deliver(relay: SmtpRelay, msg: EmailMessage, *, envelope_from: str, to_addrs: Sequence[str]) -> dict[str, Any]:
    """Hand `msg` to the relay; returns the refused recipients (smtplib's and OSError exceptions propagate)."""
    smtp: smtplib.SMTP
    if relay.ssl:
        smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
    with smtp:
        if relay.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if relay.user:
            smtp.login(relay.user, relay.password or "")
        refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=list(to_addrs))
    return dict(refused)
