"""Reads behind the console's notification badge and list (rows live in kefu.sla.notifications)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.sla import notifications
from kefu.sla.models import Notification

BADGE_CAP = 99


def unread_count(session: Session, agent_id: int) -> int:
    """How many of the agent's notifications are unread (capped: the badge shows 99+)."""
    inner = (
        select(Notification.id)
        .where(Notification.agent_id == agent_id, Notification.read_at.is_(None))
        .limit(BADGE_CAP + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def latest(session: Session, agent_id: int, limit: int = 50) -> list[Notification]:
    """The agent's newest notifications, read or not."""
    rows, _ = notifications.list_notifications(session, agent_id, unread=False, limit=limit, cursor=None)
    return rows


def mark_all_read(session: Session, agent_id: int) -> int:
    """Mark every unread notification of the agent as read."""
    return notifications.mark_read(session, agent_id)
