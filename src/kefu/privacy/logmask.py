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


class _FactoryChain:
    """The one LogRecord factory kefu installs: it runs every active rewriter, in the order they were installed.

    Hooks used to wrap each other's factories, so uninstalling one restored the factory from before it and silently
    dropped any hook installed later (credential redaction lost when PII masking was uninstalled). Now hooks only
    join and leave this list; the factory is removed once the list is empty, and only if nobody wrapped it since
    (otherwise it stays as a pass-through, so their factory survives too).
    """

    def __init__(self) -> None:
        self._rewriters: list[Callable[[logging.LogRecord], logging.LogRecord]] = []
        self._base: Callable[..., logging.LogRecord] | None = None
        self._factory: Callable[..., logging.LogRecord] | None = None
        self._lock = threading.Lock()

    def add(self, rewrite: Callable[[logging.LogRecord], logging.LogRecord]) -> None:
        """Run `rewrite` on every record created from now on (idempotent)."""
        with self._lock:
            if rewrite in self._rewriters:
                return
            self._rewriters.append(rewrite)
            if self._factory is None:
                base = logging.getLogRecordFactory()

                def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                    record = base(*args, **kwargs)
                    for each in tuple(self._rewriters):
                        record = each(record)
                    return record

                logging.setLogRecordFactory(factory)
                self._base, self._factory = base, factory

    def remove(self, rewrite: Callable[[logging.LogRecord], logging.LogRecord]) -> None:
        """Stop running `rewrite`; the other rewriters stay active whatever order they were installed in."""
        with self._lock:
            if rewrite in self._rewriters:
                self._rewriters.remove(rewrite)
            ours = self._factory is not None and logging.getLogRecordFactory() is self._factory
            if not self._rewriters and ours and self._base is not None:
                logging.setLogRecordFactory(self._base)
                self._base = self._factory = None

    def active(self) -> tuple[Callable[[logging.LogRecord], logging.LogRecord], ...]:
        """The rewriters now applied, in order."""
        return tuple(self._rewriters)


_chain = _FactoryChain()


class RecordFactoryHook:
    """Runs a record rewriter on every LogRecord created, whichever logger or handler it goes to."""

    def __init__(self, rewrite_record: Callable[[logging.LogRecord], logging.LogRecord]) -> None:
        self._rewrite = rewrite_record

    def install(self) -> None:
        """Add the rewriter to kefu's record factory (idempotent)."""
        _chain.add(self._rewrite)

    def uninstall(self) -> None:
        """Remove this rewriter only; hooks installed before or after it keep running."""
        _chain.remove(self._rewrite)

    @property
    def installed(self) -> bool:
        """True while the rewriter runs on new records."""
        return self._rewrite in _chain.active()


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
    """Stop masking new records (credential redaction, if installed, keeps running)."""
    _hook.uninstall()
