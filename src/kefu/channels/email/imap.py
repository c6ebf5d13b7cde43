"""IMAP poller: fetch new UIDs of an email inbox's folder, persist them (deduped by Message-ID), advance the cursor."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.brands.models import Inbox
from kefu.channels.email.adapter import parse_raw
from kefu.channels.models import ImapCursor
from kefu.channels.service import record_inbound
from kefu.core.db import SessionFactory, get_database, reads_of, session_scope, utcnow

log = logging.getLogger("kefu.channels.imap")
BATCH = 50


def _connect(cfg: dict[str, Any]) -> Any:
    from imapclient import IMAPClient

    ssl = bool(cfg.get("imap_ssl", True))
    port = int(cfg.get("imap_port") or (993 if ssl else 143))
    client = IMAPClient(str(cfg["imap_host"]), port=port, ssl=ssl, timeout=float(cfg.get("timeout", 30)))
    if cfg.get("imap_starttls"):
        client.starttls()
    client.login(str(cfg.get("imap_user") or ""), str(cfg.get("imap_password") or ""))
    return client


def poll(inbox_id: int, factory: SessionFactory | None = None) -> int:
    """Persist every message with a UID above the cursor; returns how many new inbound events."""
    factory = factory or get_database().sessionmaker
    with session_scope(factory) as session:
        inbox = session.get(Inbox, inbox_id)
        if inbox is None or inbox.kind != "email" or not (inbox.config or {}).get("imap_host"):
            return 0
        cfg = dict(inbox.config)
        cursor = session.get(ImapCursor, inbox_id)
        if cursor is None:
            cursor = ImapCursor(inbox_id=inbox_id, folder=str(cfg.get("imap_folder") or "INBOX"), last_uid=0)
            session.add(cursor)
        folder, last_uid, validity = cursor.folder, cursor.last_uid, cursor.uidvalidity
        cursor.last_polled_at = utcnow()
    created = 0
    try:
        client = _connect(cfg)
        try:
            info = client.select_folder(folder, readonly=True)  # read-only: we never change the customer's flags
            current = int(info[b"UIDVALIDITY"])
            if validity is not None and current != validity:
                log.warning("IMAP UIDVALIDITY changed for inbox %s; rescanning (Message-ID dedupe)", inbox_id)
                last_uid = 0
            # "N:*" always returns the highest UID even when it is below N, hence the filter.
            uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
            for start in range(0, len(uids), BATCH):
                batch = uids[start : start + BATCH]
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
                with session_scope(factory) as session:
                    inbox = session.get(Inbox, inbox_id)
                    assert inbox is not None
                    msgs = [parse_raw(fetched[u][b"BODY[]"]) for u in batch if u in fetched]
                    created += len(record_inbound(session, inbox, msgs))
                    # Events and cursor commit together: a crash re-fetches the batch, dedupe drops repeats.
                    cur = session.get(ImapCursor, inbox_id)
                    assert cur is not None
                    cur.last_uid, cur.uidvalidity, cur.last_error = batch[-1], current, None
            if not uids:
                with session_scope(factory) as session:
                    cur = session.get(ImapCursor, inbox_id)
                    if cur is not None:
                        cur.uidvalidity, cur.last_error = current, None
                        if validity is not None and current != validity:
                            cur.last_uid = 0
        finally:
            client.logout()
    except Exception as exc:
        log.warning("IMAP poll of inbox %s failed: %s", inbox_id, exc)
        with session_scope(factory) as session:
            cur = session.get(ImapCursor, inbox_id)
            if cur is not None:
                cur.last_error = repr(exc)[:2000]
        raise
    return created


def poll_due(factory: SessionFactory) -> None:
    """Poll IMAP inboxes whose interval (config imap_poll_seconds, default 60) has passed."""
    with session_scope(reads_of(factory)) as session:  # a read: on SQLite, nothing due takes no write turn
        due: list[int] = []
        for inbox in session.scalars(select(Inbox).where(Inbox.kind == "email", Inbox.is_active.is_(True))):
            cfg = inbox.config or {}
            if not cfg.get("imap_host"):
                continue
            cursor = session.get(ImapCursor, inbox.id)
            interval = timedelta(seconds=float(cfg.get("imap_poll_seconds", 60)))
            if cursor is None or cursor.last_polled_at is None or utcnow() - cursor.last_polled_at >= interval:
                due.append(inbox.id)
    for inbox_id in due:
        try:
            poll(inbox_id, factory)
        except Exception:
            log.exception("IMAP poll of inbox %s failed", inbox_id)
