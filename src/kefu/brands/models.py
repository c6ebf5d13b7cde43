"""Brands (multi-brand tenancy inside one install) and their inboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core import configcache
from kefu.core.db import Base, utcnow
from kefu.core.enums import INBOX_KINDS, check_in
from kefu.privacy.crypto import EncryptedJSON

CHANNEL_KINDS = INBOX_KINDS  # every ChannelKind but letter (kefu.core.enums)
DEFAULT_PREFIX = "KF"  # the first brand's ticket prefix (later brands get a free one: kefu.brands.service.free_prefix)
DEFAULT_TIERS: list[dict[str, Any]] = [
    {"level": 1, "name": "一般會員", "min_spend": 0},
    {"level": 2, "name": "銀卡會員", "min_spend": 10000},
    {"level": 3, "name": "金卡會員", "min_spend": 50000},
]


class Brand(Base):
    """A brand served by the install; every customer, ticket and conversation belongs to one."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_locale: Mapped[str] = mapped_column(String(16), default="zh-TW")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Taipei")
    # ISO 4217: cumulative spend and other amounts are written in it (kefu.core.l10n.format_money).
    currency: Mapped[str] = mapped_column(String(3), default="TWD", server_default="TWD")
    # Unique: numbers are drawn per brand, so two brands on one prefix would draw the same numbers (unique too).
    ticket_prefix: Mapped[str] = mapped_column(String(16), unique=True, default=DEFAULT_PREFIX)
    # Membership tiers by cumulative spend: list of {level, name, min_spend}.
    tiers: Mapped[list[Any]] = mapped_column(default=lambda: list(DEFAULT_TIERS))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Inbox(Base):
    """One configured channel endpoint of a brand (a LINE OA, a mailbox, a chat widget…)."""

    __tablename__ = "inboxes"
    __table_args__ = (UniqueConstraint("brand_id", "name"), check_in("kind", INBOX_KINDS))

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # Channel secrets (tokens, passwords) live here: encrypted at rest with a key derived from KEFU_SECRET_KEY.
    config: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(), default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BrandAsset(Base):
    """An uploaded brand image (help-centre logo, favicon): bytes checked by type and size when saved."""

    __tablename__ = "brand_assets"
    __table_args__ = (UniqueConstraint("brand_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # logo | favicon
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary())
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


configcache.watch(Brand, "id")  # cached brand snapshots (kefu.tickets.config)
