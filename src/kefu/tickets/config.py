"""Per-brand configuration the ticket hot paths read, cached per process (kefu.core.configcache invalidates it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core import configcache
from kefu.core.access import ensure_brand
from kefu.core.errors import NotFound


@dataclass(frozen=True)
class BrandSnapshot:
    """A read-only copy of a brand's row: what creation, classification and SLA matching need."""

    id: int
    slug: str
    name: str
    ticket_prefix: str
    timezone: str
    default_locale: str
    settings: Mapping[str, Any]


def _load(session: Session, brand_id: int) -> BrandSnapshot | None:
    brand = session.get(Brand, brand_id)
    if brand is None:
        return None
    return BrandSnapshot(
        id=brand.id,
        slug=brand.slug,
        name=brand.name,
        ticket_prefix=brand.ticket_prefix,
        timezone=brand.timezone,
        default_locale=brand.default_locale,
        settings=MappingProxyType(dict(brand.settings or {})),
    )


def brand_snapshot(session: Session, brand_id: int, principal: Principal | None = None) -> BrandSnapshot:
    """The brand's cached snapshot (404 if missing or not visible to the principal)."""
    snap = configcache.cached(session, brand_id, "brand", lambda: _load(session, brand_id))
    if snap is None:
        raise NotFound.said("err_tickets_brand_not_found", brand_id=brand_id)
    ensure_brand(principal, brand_id, "Brand")
    return snap
