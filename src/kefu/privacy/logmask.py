"""Masks PII in log records before any handler formats them."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kefu.privacy.pii import mask_text

_previous: Any = None
_lock = threading.Lock()


def _mask_arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, int | float | bool):
        return value  # keeps %d / %.2f formatting working
    return mask_text(str(value))


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record's message template, its arguments and any formatted exception, in place."""
    if getattr(record, "kefu_masked", False):
        return record
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    else:
        record.msg = mask_text(str(record.msg))
    # Arguments stay separate (uvicorn's access formatter unpacks record.args), each one masked.
    if isinstance(record.args, tuple):
        record.args = tuple(_mask_arg(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _mask_arg(v) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    record.kefu_masked = True
    return record


class PiiMaskingFilter(logging.Filter):
    """A logging.Filter that masks PII in every record it sees (attach to handlers or loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask and keep the record."""
        mask_record(record)
        return True


def install_log_masking() -> None:
    """Mask every record created from now on, whichever logger or handler it goes to (idempotent)."""
    global _previous
    with _lock:
        if _previous is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return mask_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _previous = previous


def uninstall_log_masking() -> None:
    """Restore the record factory that was active before install_log_masking()."""
    global _previous
    with _lock:
        if _previous is not None:
            logging.setLogRecordFactory(_previous)
            _previous = None
