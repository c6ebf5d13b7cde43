"""The per-process channel background thread: periodic sweep and, when configured, the SMTP receiver."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kefu.channels import config
from kefu.core.db import SessionFactory
from kefu.core.retry import LoopOutage

log = logging.getLogger("kefu.channels.background")


class Background:
    """Runs jobs.sweep every KEFU_CHANNELS_SWEEP_SECONDS (first run at start: recovers work after a crash)."""

    def __init__(self, factory: SessionFactory, *, smtp: bool = True) -> None:
        self.factory = factory
        self.with_smtp = smtp
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._smtp: Any = None

    def start(self) -> None:
        """Start the sweeper thread and the SMTP receiver (KEFU_SMTP_PORT)."""
        port = config.settings().smtp_port
        if port and self.with_smtp:
            from kefu.channels.email.receiver import start_receiver

            try:
                self._smtp = start_receiver(config.settings().smtp_host, port, self.factory)
            except OSError as exc:  # another worker process already bound the port
                log.warning("SMTP receiver not started on port %s: %s", port, exc)
        self._thread = threading.Thread(target=self._run, name="kefu-channels", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop both."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._smtp is not None:
            self._smtp.stop()

    def _run(self) -> None:
        from kefu.channels.jobs import sweep

        outage = LoopOutage(log, "channel sweep")
        while not self._stop.is_set():
            wait = config.sweep_seconds()
            try:
                sweep(self.factory)
                outage.ok()
            except Exception as exc:
                wait = outage.failed(exc, wait)
            self._stop.wait(wait)
