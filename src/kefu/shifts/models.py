"""A team's weekly shift pattern per agent and dated exceptions (leave, extra shifts), in the brand's local time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


class ShiftPattern(Base):
    """Agent works for the team on `weekday` (0 = Monday) from `start_minute` to `end_minute` (local minutes).

    An end at or before the start runs past midnight into the next day (a night shift 22:00–06:00). An optional
    break (local minutes of the shift's start day; past 24:00 for a break after midnight in a night shift) is time
    off the floor: the agent is not on shift then.
    """

    __tablename__ = "shift_patterns"
    __table_args__ = (Index("ix_shift_patterns_team", "team_id", "weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]
    break_start_minute: Mapped[int | None] = mapped_column(default=None)
    break_end_minute: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShiftException(Base):
    """On `day` the agent is off (`available` false: leave, sick) or works extra hours (true: overtime, swap).

    Without minutes an exception covers the whole local day.
    """

    __tablename__ = "shift_exceptions"
    __table_args__ = (Index("ix_shift_exceptions_team_day", "team_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    day: Mapped[date]
    available: Mapped[bool]
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
