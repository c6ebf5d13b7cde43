"""Fixtures: a controllable clock for the services."""

from __future__ import annotations

import pytest

from tests.tickets.helpers import Clock, install_clock, tw


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Services see 2026-03-02 (Mon) 09:00 Taipei until moved."""
    return install_clock(monkeypatch, tw(2026, 3, 2, 9, 0))
