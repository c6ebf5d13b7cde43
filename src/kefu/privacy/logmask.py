"""Masks PII in log records before any handler formats them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kefu.privacy.pii import mask_text


def _rewrite_arg(value: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if value is None or isinstance(value, int | float | bool):
        return value  # keeps %d / %.2f formatting working
    return rewrite(str(value))


def rewrite_record(record: logging.LogRecord, rewrite: Callable[[str], str], flag: str) -> logging.LogRecord:
    """Apply `rewrite` to the record's template, each argument and any formatted exception, in place (once per flag)."""
    if getattr(record, flag, False):
        return record
    record.msg = rewrite(record.msg if isinstance(record.msg, str) else str(record.msg))
    # Arguments stay separate (uvicorn's access formatter unpacks record.args), each one rewritten.
    if isinstance(record.args, tuple):
        record.args = tuple(_rewrite_arg(a, rewrite) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _rewrite_arg(v, rewrite) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = rewrite(record.exc_text)
    setattr(record, flag, True)
    return record


class RecordFactoryHook:
    """Runs a record rewriter on every LogRecord created, whichever logger or handler it goes to."""

    def __init__(self, rewrite_record: Callable[[logging.LogRecord], logging.LogRecord]) -> None:
        self._rewrite = rewrite_record
        self._previous: Any = None
        self._lock = threading.Lock()

    def install(self) -> None:
        """Wrap the current record factory (idempotent)."""
        with self._lock:
            if self._previous is not None:
                return
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return self._rewrite(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            self._previous = previous

    def uninstall(self) -> None:
        """Restore the record factory that was active before install()."""
        with self._lock:
            if self._previous is not None:
                logging.setLogRecordFactory(self._previous)
                self._previous = None


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record's message template, its arguments and any formatted exception, in place."""
    return rewrite_record(record, mask_text, "kefu_masked")


class PiiMaskingFilter(logging.Filter):
    """A logging.Filter that masks PII in every record it sees (attach to handlers or loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask and keep the record."""
        mask_record(record)
        return True


_hook = RecordFactoryHook(mask_record)


def install_log_masking() -> None:
    """Mask every record created from now on, whichever logger or handler it goes to (idempotent)."""
    _hook.install()


def uninstall_log_masking() -> None:
    """Restore the record factory that was active before install_log_masking()."""
    _hook.uninstall()
