"""Reads behind the console's notification badge and list (rows live in kefu.sla.notifications)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.sla import notifications
from kefu.sla.models import Notification

BADGE_CAP = 99


def unread_count(session: Session, principal: Principal) -> int:
    """How many of the principal's notifications are unread (capped: the badge shows 99+)."""
    inner = (
        notifications.mine(principal)
        .with_only_columns(Notification.id)
        .where(Notification.read_at.is_(None))
        .limit(BADGE_CAP + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def latest(session: Session, principal: Principal, limit: int = 50) -> list[Notification]:
    """The principal's newest notifications, read or not."""
    rows, _ = notifications.list_notifications(session, principal, unread=False, limit=limit, cursor=None)
    return rows


def mark_all_read(session: Session, principal: Principal) -> int:
    """Mark every unread notification the principal sees as read."""
    return notifications.mark_read(session, principal)
