"""Fixtures: a controllable clock seen by the ladder's services too."""

from __future__ import annotations

import importlib

import pytest

from tests.tickets.helpers import Clock, install_clock, tw


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Services see 2026-03-02 (Mon) 09:00 Taipei until moved."""
    c = install_clock(monkeypatch, tw(2026, 3, 2, 9, 0))
    for name in ("kefu.account_security.service", "kefu.account_security.pages", "kefu.sla.api"):
        monkeypatch.setattr(importlib.import_module(name), "utcnow", c)
    return c
