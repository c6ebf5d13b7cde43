"""Saved ticket-list views: a name and a filter set, personal or shared with a brand."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, utcnow


class SavedView(Base):
    """A named ticket-list query; shared views are visible to every agent of `brand_id`."""

    __tablename__ = "saved_ticket_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    shared: Mapped[bool] = mapped_column(default=False)
    # Query-string pairs of kefu.tickets.listing.TicketQuery (cursor excluded), re-validated on every use.
    params: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def query_string(self) -> str:
        """The stored filters as a URL query string."""
        return urlencode([(str(k), str(v)) for k, v in self.params])
