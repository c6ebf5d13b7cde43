"""Threshold alerts (first response over target, backlog, anger spike): evaluated live, raised as events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.analytics.models import AnalyticsAlert
from kefu.analytics.sql import seconds_between
from kefu.brands.models import Brand
from kefu.conversations.models import Message
from kefu.core.db import utcnow
from kefu.core.events import publish
from kefu.tickets.models import OPEN_STATUSES, Ticket

DEFAULTS: dict[str, float] = {
    "frt_target_minutes": 60,  # average first response over the window above this fires
    "frt_window_hours": 24,
    "backlog_max": 200,
    "anger_level": 3,  # Message.meta.emotion.anger at or above this is "angry" (the bot's alert level)
    "anger_spike_count": 5,
    "anger_window_minutes": 60,
}


@dataclass(frozen=True)
class Check:
    """One evaluated threshold."""

    kind: str
    value: float
    threshold: float
    firing: bool
    details: dict[str, Any]

    def message(self, locale: str = "zh-TW") -> str:
        """Human sentence for the dashboard and notifications."""
        en = locale == "en"
        if self.kind == "first_response":
            v, t = round(self.value / 60, 1), round(self.threshold / 60, 1)
            return (
                f"Average first response {v} min exceeds the {t} min target"
                if en
                else f"平均首次回應 {v} 分鐘，超過目標 {t} 分鐘"
            )
        if self.kind == "backlog":
            return (
                f"Backlog {int(self.value)} tickets exceeds {int(self.threshold)}"
                if en
                else f"待處理工單 {int(self.value)} 件，超過上限 {int(self.threshold)} 件"
            )
        mins = self.details.get("window_minutes")
        return (
            f"{int(self.value)} angry customer messages in {mins} min (threshold {int(self.threshold)})"
            if en
            else f"{mins} 分鐘內有 {int(self.value)} 則憤怒客戶訊息（門檻 {int(self.threshold)}）"
        )


def thresholds(brand: Brand) -> dict[str, float]:
    """Brand thresholds: `settings.analytics` overrides the defaults."""
    custom = (brand.settings or {}).get("analytics", {})
    return {k: float(custom.get(k, v)) for k, v in DEFAULTS.items()}


def evaluate(session: Session, brand: Brand, now: datetime | None = None) -> list[Check]:
    """Evaluate every threshold for a brand right now."""
    now = now or utcnow()
    th = thresholds(brand)
    since = now - timedelta(hours=th["frt_window_hours"])
    avg, n = session.execute(
        select(func.avg(seconds_between(Ticket.created_at, Ticket.first_response_at)), func.count(Ticket.id)).where(
            Ticket.brand_id == brand.id,
            Ticket.created_at >= since,
            Ticket.created_at <= now,
            Ticket.first_response_at.is_not(None),
        )
    ).one()
    target = th["frt_target_minutes"] * 60
    frt = float(avg or 0)
    checks = [Check("first_response", round(frt, 1), target, n > 0 and frt > target, {"tickets": int(n)})]
    backlog = int(
        session.scalar(
            select(func.count(Ticket.id)).where(Ticket.brand_id == brand.id, Ticket.status.in_(OPEN_STATUSES))
        )
        or 0
    )
    checks.append(Check("backlog", backlog, th["backlog_max"], backlog > th["backlog_max"], {}))
    window = now - timedelta(minutes=th["anger_window_minutes"])
    anger = Message.meta[("emotion", "anger")].as_integer()
    angry = int(
        session.scalar(
            select(func.count(Message.id)).where(
                Message.brand_id == brand.id,
                Message.created_at >= window,
                Message.created_at <= now,
                Message.sender_type == "customer",
                anger >= int(th["anger_level"]),
            )
        )
        or 0
    )
    checks.append(
        Check(
            "anger_spike",
            angry,
            th["anger_spike_count"],
            angry >= th["anger_spike_count"],
            {"window_minutes": int(th["anger_window_minutes"]), "level": int(th["anger_level"])},
        )
    )
    return checks


def sync(session: Session, brand: Brand, now: datetime | None = None) -> list[AnalyticsAlert]:
    """Raise newly firing alerts and clear recovered ones, publishing an event for each change; returns active."""
    now = now or utcnow()
    active = {
        a.kind: a
        for a in session.scalars(
            select(AnalyticsAlert).where(AnalyticsAlert.brand_id == brand.id, AnalyticsAlert.cleared_at.is_(None))
        )
    }
    topics = (f"brand:{brand.id}",)
    for c in evaluate(session, brand, now):
        row = active.get(c.kind)
        if c.firing and row is None:
            row = AnalyticsAlert(
                brand_id=brand.id,
                kind=c.kind,
                value=c.value,
                threshold=c.threshold,
                message=c.message(),
                details=c.details,
                raised_at=now,
            )
            session.add(row)
            session.flush()
            active[c.kind] = row
            publish(
                session,
                "analytics.alert",
                {
                    "alert_id": row.id,
                    "brand_id": brand.id,
                    "kind": c.kind,
                    "value": c.value,
                    "threshold": c.threshold,
                    "message": row.message,
                    "message_en": c.message("en"),
                },
                topics,
            )
        elif c.firing and row is not None:
            row.value, row.message = c.value, c.message()
        elif not c.firing and row is not None:
            row.cleared_at = now
            del active[c.kind]
            publish(
                session, "analytics.alert_cleared", {"alert_id": row.id, "brand_id": brand.id, "kind": c.kind}, topics
            )
    session.flush()
    return sorted(active.values(), key=lambda a: a.id)


def open_alerts(session: Session, brand_ids: tuple[int, ...], limit: int = 20) -> list[AnalyticsAlert]:
    """Raised, not yet cleared alerts of these brands, newest first (the dashboard's alert list)."""
    return list(
        session.scalars(
            select(AnalyticsAlert)
            .where(AnalyticsAlert.brand_id.in_(brand_ids), AnalyticsAlert.cleared_at.is_(None))
            .order_by(AnalyticsAlert.id.desc())
            .limit(limit)
        )
    )


def sync_all(session: Session, now: datetime | None = None) -> int:
    """Sync every brand; returns how many alerts are active."""
    return sum(len(sync(session, b, now)) for b in session.scalars(select(Brand).order_by(Brand.id)))
