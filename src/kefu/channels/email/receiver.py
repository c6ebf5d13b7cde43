"""Built-in SMTP receiver (aiosmtpd): a mail is answered 250 only after it is committed to inbound_events."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from kefu.brands.models import Inbox
from kefu.channels.email.adapter import inbox_address, parse_raw
from kefu.channels.email.tokens import base_address
from kefu.channels.service import record_inbound
from kefu.core.db import SessionFactory, session_scope

log = logging.getLogger("kefu.channels.smtp")
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
TEMPORARY_FAILURE = "451 4.3.0 Temporary local failure, please retry"


def inboxes_by_address(factory: SessionFactory) -> dict[str, int]:
    """Active email inboxes keyed by their address and aliases (lower case)."""
    out: dict[str, int] = {}
    with session_scope(factory) as session:
        for inbox in session.scalars(select(Inbox).where(Inbox.kind == "email", Inbox.is_active.is_(True))):
            cfg = inbox.config or {}
            for addr in [inbox_address(cfg), *[str(a).lower() for a in cfg.get("aliases", [])]]:
                if addr:
                    out[addr] = inbox.id
    return out


def persist(factory: SessionFactory, raw: bytes, rcpt_tos: list[str]) -> int:
    """Store one mail for every kefu inbox among its recipients; returns how many new events."""
    targets = inboxes_by_address(factory)
    inbox_ids = sorted({targets[base_address(r)] for r in rcpt_tos if base_address(r) in targets})
    msg = parse_raw(raw)
    created = 0
    with session_scope(factory) as session:
        for inbox_id in inbox_ids:
            inbox = session.get(Inbox, inbox_id)
            if inbox is not None:
                created += len(record_inbound(session, inbox, [msg]))
    return created


class Handler:
    """aiosmtpd handler: refuse unknown recipients, persist before acknowledging DATA."""

    def __init__(self, factory: SessionFactory) -> None:
        self.factory = factory

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        """Accept only addresses of active email inboxes."""
        known = await asyncio.get_running_loop().run_in_executor(None, inboxes_by_address, self.factory)
        if base_address(address) not in known:  # plus-tagged reply addresses belong to their inbox
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_exception(self, error: Exception) -> str:
        """Any command that failed here (the database away at RCPT): 451, which senders retry, never aiosmtpd's 500."""
        # A 5xx is permanent: the sending server bounces the mail and it is lost. Its text (the database's error)
        # would reach the sender too.
        log.error("SMTP receiver: a command failed; answered 451 so the sender retries", exc_info=error)
        return TEMPORARY_FAILURE

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Commit, then 250; a database failure answers 451 so the sender retries (nothing is lost)."""
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await asyncio.get_running_loop().run_in_executor(None, persist, self.factory, raw, list(envelope.rcpt_tos))
        except Exception:
            log.exception("could not store inbound mail")
            return TEMPORARY_FAILURE
        return "250 2.0.0 Message accepted"


def start_receiver(host: str, port: int, factory: SessionFactory) -> Any:
    """Start an aiosmtpd Controller in its own thread; call .stop() to end it."""
    from aiosmtpd.controller import Controller

    controller = Controller(
        Handler(factory), hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES, decode_data=False
    )
    controller.start()
    log.info("SMTP receiver listening on %s:%s", host, port)
    return controller
