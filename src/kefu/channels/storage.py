"""Attachment files under the data dir, recorded in channel_attachments and served as downloads."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.config import data_dir
from kefu.channels.models import ChannelAttachment
from kefu.core.db import SessionFactory, get_database, on_rollback, reads_of, session_scope
from kefu.core.errors import storage_problem

log = logging.getLogger("kefu.channels.storage")
ATTACHMENTS = "attachments"  # the folder under the data dir that store() writes to and sweep_orphans() cleans
ORPHAN_GRACE_SECONDS = 3600.0
"""A file younger than this is never swept: its transaction may still be open (writes last seconds at most, the
write-wait budget is 15 s), so only a file whose writer crashed before COMMIT stays unreferenced this long."""

# Path and shell characters, controls, and the bidirectional overrides/isolates/marks: "invoice\u202efdp.exe" shows
# as "invoiceexe.pdf" in the console and the download dialog, a customer's program dressed as a document.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def safe_filename(name: str, default: str = "attachment") -> str:
    """A display filename without path separators or control characters."""
    cleaned = _UNSAFE.sub("_", os.path.basename(name or "")).strip(" .")
    return cleaned[:200] or default


def write_file(brand_id: int, data: bytes) -> tuple[str, str]:
    """Write bytes atomically under the data dir; returns (relative path, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    rel = Path(ATTACHMENTS) / str(brand_id) / digest[:2] / f"{uuid.uuid4().hex}.bin"
    target = data_dir() / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(target)
    return rel.as_posix(), digest


def probe() -> str | None:
    """None when the attachment store can take a file now, else one line naming the path and what is wrong."""
    root = data_dir() / ATTACHMENTS
    try:
        if not root.is_dir():  # nothing stored yet: store() creates it under the nearest existing folder
            base = next(p for p in (root, *root.parents) if p.exists())
            if not os.access(base, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(base))
            return None
        os.listdir(root)  # readable (downloads, the orphan sweep)
        # A real create: os.access says yes on a read-only mount for root, and only a write meets a full disk.
        fd, name = tempfile.mkstemp(dir=root, prefix=".probe-", suffix=".tmp")
        try:
            os.write(fd, b"k")
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        if exc.filename is None or Path(str(exc.filename)).name.startswith(".probe-"):
            exc.filename = str(root)  # the folder an operator fixes, not the probe's file name
        return storage_problem(exc) or f"file store {root}: {exc}"
    return None


def store(
    session: Session,
    *,
    brand_id: int,
    conversation_id: int | None,
    filename: str,
    content_type: str,
    data: bytes,
) -> ChannelAttachment:
    """Persist a file and its row (flushes); the file is deleted again if the transaction rolls back."""
    rel, digest = write_file(brand_id, data)
    # Without its row nothing would ever find (or erase) the file: e.g. an Idempotency-Key replay runs the reply
    # again, stores its files and rolls back.
    on_rollback(session, lambda: (data_dir() / rel).unlink(missing_ok=True))
    row = ChannelAttachment(
        brand_id=brand_id,
        conversation_id=conversation_id,
        filename=safe_filename(filename),
        content_type=content_type or "application/octet-stream",
        size=len(data),
        sha256=digest,
        path=rel,
    )
    session.add(row)
    session.flush()
    return row


def describe(row: ChannelAttachment) -> dict[str, Any]:
    """The entry stored in Message.attachments."""
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "url": f"/api/v1/channels/attachments/{row.id}",
    }


def path_of(row: ChannelAttachment) -> Path:
    """Absolute path of a stored file (refuses paths escaping the data dir)."""
    root = data_dir().resolve()
    full = (root / row.path).resolve()
    if root not in full.parents:
        raise ValueError("attachment path escapes the data dir")
    return full


def delete_file(row: Any) -> bool:
    """Remove a stored attachment's bytes (erasure); True when a file was deleted."""
    if not isinstance(row, ChannelAttachment) or not row.path:
        return False
    try:
        path_of(row).unlink()
    except (FileNotFoundError, ValueError):
        return False
    return True


@dataclass
class SweepReport:
    """What sweep_orphans() found: files looked at, orphans (deleted unless a dry run), fresh and referenced files."""

    scanned: int = 0
    referenced: int = 0
    fresh: int = 0
    orphans: int = 0
    deleted: int = 0
    orphan_bytes: int = 0
    dry_run: bool = False
    paths: list[str] = field(default_factory=list)  # the orphans' relative paths (the first 1000)

    def summary(self) -> dict[str, int | bool]:
        """The counts, for logs and the CLI."""
        return {k: v for k, v in vars(self).items() if k != "paths"}


def _stored_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    base = root / ATTACHMENTS
    if not base.is_dir():
        return
    for folder, _dirs, names in os.walk(base):
        for name in names:
            full = Path(folder) / name
            try:
                stat = full.lstat()
            except FileNotFoundError:  # erased while we walked
                continue
            yield full.relative_to(root).as_posix(), stat


def sweep_orphans(
    factory: SessionFactory | None = None,
    *,
    grace: float = ORPHAN_GRACE_SECONDS,
    dry_run: bool = False,
    batch: int = 500,
    progress: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Delete attachment files no channel_attachments row points to and older than `grace` seconds.

    store() writes the file before the transaction commits; a rollback deletes it (on_rollback), but a process
    killed between the write and the COMMIT leaves a file nothing references. Files are checked against the rows in
    batches (one read per `batch` files, no write turn), so memory stays flat however many files there are.
    """
    factory = reads_of(factory or get_database().sessionmaker)
    root = data_dir()
    report = SweepReport(dry_run=dry_run)
    cutoff = time.time() - grace
    pending: list[tuple[str, os.stat_result]] = []

    def check() -> None:
        with session_scope(factory) as session:
            paths = [rel for rel, _ in pending]
            known = set(session.scalars(select(ChannelAttachment.path).where(ChannelAttachment.path.in_(paths))))
        for rel, stat in pending:
            if rel in known:
                report.referenced += 1
                continue
            report.orphans += 1
            report.orphan_bytes += stat.st_size
            if len(report.paths) < 1000:
                report.paths.append(rel)
            if not dry_run:
                (root / rel).unlink(missing_ok=True)
                report.deleted += 1
        pending.clear()
        if progress is not None:
            progress(report)

    for rel, stat in _stored_files(root):
        report.scanned += 1
        if stat.st_mtime > cutoff:
            report.fresh += 1
            continue
        pending.append((rel, stat))
        if len(pending) >= batch:
            check()
    if pending:
        check()
    if report.orphans:
        log.warning("attachment sweep: %s", report.summary())
    return report
