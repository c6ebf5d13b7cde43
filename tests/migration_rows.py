"""Rows migration tests write with plain SQL into an older schema (no app code: the models may have moved on)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

NOW = "2026-01-01 00:00:00"
BRAND = (
    "INSERT INTO brands (id, slug, name, default_locale, timezone, ticket_prefix, tiers, settings, created_at) "
    "VALUES (:id, :slug, 'B', 'zh-TW', 'Asia/Taipei', :prefix, '[]', '{}', :now)"
)
CUSTOMER = (
    "INSERT INTO customers (id, brand_id, name, cumulative_spend, tier, vip, attributes, created_at, updated_at) "
    "VALUES (:id, :brand_id, 'c', 0, 'regular', 0, '{}', :now, :now)"
)


def brand(conn: Any, brand_id: int = 1, slug: str = "b", prefix: str = "KF", now: str = NOW) -> None:
    """A brand row with the columns every schema since 0101 has."""
    conn.execute(text(BRAND), {"id": brand_id, "slug": slug, "prefix": prefix, "now": now})


def brand_and_customer(conn: Any, now: str = NOW) -> None:
    """Brand 1 and its customer 1, what most data migrations need under the rows they rewrite."""
    brand(conn, now=now)
    conn.execute(text(CUSTOMER), {"id": 1, "brand_id": 1, "now": now})
