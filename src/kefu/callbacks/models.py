"""A booked call-back: when to call whom, about which case, and what happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from kefu.core.db import Base, utcnow
from kefu.customers.phones import check_phone, phone_key

SOURCES = ("portal", "widget", "bot", "phone", "agent")
MODES = ("phone", "video")  # a phone call-back, or a video session (sign language on request)
STATUSES = ("booked", "due", "done", "missed", "cancelled")
OUTCOMES = ("reached", "no_answer")


class Callback(Base):
    """A call-back appointment; `booked` → `due` (in the assignee's queue at its time) → `done` or `missed`."""

    __tablename__ = "callbacks"
    __table_args__ = (
        Index("ix_callbacks_brand_scheduled", "brand_id", "scheduled_at"),
        Index("ix_callbacks_brand_phone_key", "brand_id", "phone_key"),
        Index("uq_callbacks_brand_submission", "brand_id", "submission", unique=True),
        Index(
            "ix_callbacks_open_scheduled",
            "scheduled_at",
            postgresql_where=text("status IN ('booked', 'due')"),
            sqlite_where=text("status IN ('booked', 'due')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(64))
    # `phone` as digits (kefu.customers.phones.phone_key), kept in step by the validator below: the public cap on
    # open call-backs per number counts it, so writing the number another way does not make it another number.
    phone_key: Mapped[str | None] = mapped_column(String(32))
    # Who asked, for the public cap (kefu.callbacks.service.book): "ip:<keyed hash of the client address>", "owner"
    # when the number itself asked (a missed call's caller id), NULL for agents' bookings and rows from before 2770.
    requester: Mapped[str | None] = mapped_column(String(64))
    # A public booking's submission id (the form's hidden field, the API's `submission_id`) and a digest of what it
    # asked: a retried post with the same id and the same content answers with this booking instead of booking twice
    # (kefu.callbacks.service.book). NULL for agents' bookings, posts without an id and rows from before 2820.
    submission: Mapped[str | None] = mapped_column(String(100))
    submission_digest: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    topic: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16), default="phone")
    needs_sign_language: Mapped[bool] = mapped_column(default=False)
    # A certified interpreter from a partner organisation joins instead of a signing agent (organisation, cert ref).
    interpreter_org: Mapped[str | None] = mapped_column(String(200))
    interpreter_cert: Mapped[str | None] = mapped_column(String(200))
    # Secret part of the video room link (the brand's meeting-URL template fills it in); unguessable, per session.
    video_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    scheduled_at: Mapped[datetime]
    window_minutes: Mapped[int] = mapped_column(default=30)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    result: Mapped[str | None] = mapped_column(String(16))  # reached | no_answer (codes, not the customer's words)
    note: Mapped[str] = mapped_column(Text, default="")
    reminded_agent_at: Mapped[datetime | None]
    reminded_customer_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    missed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("phone")
    def _set_phone_key(self, _key: str, value: str) -> str:
        check_phone(value)  # every path that sets a number meets the same rule before anything is written
        self.phone_key = phone_key(value)
        return value
