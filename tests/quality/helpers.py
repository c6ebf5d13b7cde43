"""Feedback of every source, placed at chosen instants, for the quality tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kefu.conversations.commands import CreateConversation


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A UTC instant."""
    return datetime(y, m, d, h, mi, tzinfo=UTC)


class World:
    """Creates cases and negative (and positive) feedback items in one brand."""

    def __init__(self, db: Any, make: Any, brand: Any) -> None:
        self.db, self.make, self.brand = db, make, brand
        self.customer = make.customer(brand, name="王小明", email="ming@example.com", phone="0912345678")

    def case(self, subject: str = "退款未到帳", *, closed_at: datetime | None = None, description: str = "") -> Any:
        """A ticket (closed at `closed_at` when given)."""
        from kefu.tickets.service import create_ticket

        t = create_ticket(
            self.db, brand_id=self.brand.id, subject=subject, actor=None, customer_id=self.customer.id,
            description=description,
        )  # fmt: skip
        if closed_at is not None:
            t.status, t.resolved_at, t.closed_at = "closed", closed_at - timedelta(hours=1), closed_at
        self.db.flush()
        return t

    def conversation(self) -> Any:
        """A conversation of the customer."""
        from kefu.conversations.service import create_conversation

        return create_conversation(
            self.db, CreateConversation(brand_id=self.brand.id, customer_id=self.customer.id, channel="web_chat"),
            actor=None,
        )  # fmt: skip

    def csat(self, at: datetime, rating: int, comment: str = "") -> Any:
        """An answered CSAT survey."""
        from kefu.surveys.models import CsatSurvey

        t = self.case()
        row = CsatSurvey(
            brand_id=self.brand.id, ticket_id=t.id, customer_id=self.customer.id, channel="web_chat",
            resolved_at=at - timedelta(hours=2), sent_at=at - timedelta(hours=1), expires_at=at + timedelta(days=2),
            rating=rating, comment=comment, answered_at=at,
        )  # fmt: skip
        self.db.add(row)
        self.db.flush()
        return row

    def complaint(self, at: datetime) -> Any:
        """A complaint received at `at`."""
        from kefu.complaints.models import Complaint

        t = self.case("客訴：態度不佳")
        row = Complaint(  # the SOP form's fields, at a chosen instant
            brand_id=self.brand.id, ticket_id=t.id, complainant_name="王小明", channel="phone",
            description="客服態度差", received_at=at, acknowledge_due_at=at + timedelta(days=1),
            reply_due_at=at + timedelta(days=5),
        )  # fmt: skip
        self.db.add(row)
        self.db.flush()
        return row

    def qa(self, at: datetime, passed: bool, total: float = 55.0) -> Any:
        """A finished QA review."""
        from kefu.qa.models import QaReview

        conv = self.conversation()
        row = QaReview(
            brand_id=self.brand.id, conversation_id=conv.id, status="done", total=total, passed=passed,
            accuracy_passed=passed, reviewed_at=at, comment="答覆錯誤",
        )  # fmt: skip
        self.db.add(row)
        self.db.flush()
        return row

    def bot_vote(self, at: datetime, helpful: bool) -> Any:
        """A customer's vote on a bot answer."""
        from kefu.bot.models import BotFeedback
        from kefu.conversations.service import add_message

        msg, _ = add_message(self.db, self.conversation(), sender_type="bot", body="運費 60 元")
        row = BotFeedback(brand_id=self.brand.id, message_id=msg.id, helpful=helpful, created_at=at)
        self.db.add(row)
        self.db.flush()
        return row
