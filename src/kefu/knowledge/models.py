"""Knowledge base: FAQ entries (several question variants) and articles, per locale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core import configcache
from kefu.core.db import Base, utcnow

LOCALES = ("zh-TW", "zh-CN", "en")


class FaqEntry(Base):
    """A question (with paraphrases) and its answer."""

    __tablename__ = "kb_faqs"
    __table_args__ = (
        Index("ix_kb_faqs_brand_locale", "brand_id", "locale"),
        # Locale copies of one FAQ share an external id; an import is idempotent by (brand, external id, locale).
        Index("uq_kb_faqs_brand_external_locale", "brand_id", "external_id", "locale", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    category_path: Mapped[list[Any]] = mapped_column(default=list)
    intent: Mapped[str | None] = mapped_column(String(64))
    questions: Mapped[list[Any]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)
    # "text", "html" (sanitised on write) or "markdown"; channels without rich text get a plain-text rendering.
    answer_format: Mapped[str] = mapped_column(String(16), default="text")
    is_published: Mapped[bool] = mapped_column(default=True)
    # Help-centre counters ("was this helpful?" and page views); anonymous, no personal data.
    helpful_votes: Mapped[int] = mapped_column(default=0)
    unhelpful_votes: Mapped[int] = mapped_column(default=0)
    views: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Article(Base):
    """A longer help-center article."""

    __tablename__ = "kb_articles"
    __table_args__ = (Index("ix_kb_articles_brand_locale", "brand_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    is_published: Mapped[bool] = mapped_column(default=True)
    # Help-centre counters ("was this helpful?" and page views); anonymous, no personal data.
    helpful_votes: Mapped[int] = mapped_column(default=0)
    unhelpful_votes: Mapped[int] = mapped_column(default=0)
    views: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


configcache.watch(FaqEntry)  # the ticket category model learns from FAQs (kefu.bot.classifier)
