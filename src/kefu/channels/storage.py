"""Attachment files under the data dir, recorded in channel_attachments and served as downloads."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from kefu.channels.config import data_dir
from kefu.channels.models import ChannelAttachment
from kefu.core.db import on_rollback

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str, default: str = "attachment") -> str:
    """A display filename without path separators or control characters."""
    cleaned = _UNSAFE.sub("_", os.path.basename(name or "")).strip(" .")
    return cleaned[:200] or default


def write_file(brand_id: int, data: bytes) -> tuple[str, str]:
    """Write bytes atomically under the data dir; returns (relative path, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    rel = Path("attachments") / str(brand_id) / digest[:2] / f"{uuid.uuid4().hex}.bin"
    target = data_dir() / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(target)
    return rel.as_posix(), digest


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
