"""Shared helpers for the ticket, routing, SLA and complaint tests: a controllable clock and a system principal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

TW = ZoneInfo("Asia/Taipei")
CLOCK_MODULES = (
    "kefu.tickets.creation",
    "kefu.tickets.lifecycle",
    "kefu.tickets.links",
    "kefu.tickets.timeline",
    "kefu.tickets.progress",
    "kefu.sla.configuration",
    "kefu.sla.runtime",
    "kefu.sla.notifications",
    "kefu.routing.service",
    "kefu.complaints.service",
    "kefu.complaints.due_soon",
    "kefu.sla.updates",
    "kefu.followups.service",
    "kefu.callbacks.service",
    "kefu.notices.service",
    "kefu.shifts.service",
    "kefu.notices.broadcasts",
    "kefu.compensation.service",
    "kefu.sla.api",
)


def tw(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Taipei wall time."""
    return datetime(y, m, d, h, mi, tzinfo=TW)


class Clock:
    """The 'now' every service in our packages sees."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when.astimezone(UTC)
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def install_clock(monkeypatch: pytest.MonkeyPatch, start: datetime) -> Clock:
    """Patch utcnow in our service modules."""
    import importlib

    clock = Clock(start)
    for name in CLOCK_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "utcnow", clock)
    return clock


def admin_principal(agent: Any) -> Any:
    """A Principal for an admin agent (service-level calls)."""
    from kefu.auth.permissions import Principal, permissions_for

    return Principal(
        agent_id=agent.id,
        email=agent.email,
        name=agent.name,
        role="admin",
        permissions=permissions_for("admin"),
        brand_ids=None,
        via="token",
        credential_id=0,
    )
