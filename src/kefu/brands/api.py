"""Brand and inbox endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from kefu.auth.deps import DB, CurrentPrincipal, require
from kefu.auth.permissions import Principal
from kefu.brands import service
from kefu.brands.models import Brand, Inbox
from kefu.brands.schemas import BrandCreate, BrandOut, BrandUpdate, InboxCreate, InboxOut, InboxUpdate
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["brands"])
Manage = Annotated[Principal, Depends(require("brands:manage"))]


@router.get("/brands", response_model=list[BrandOut])
def list_brands(principal: CurrentPrincipal, db: DB) -> list[BrandOut]:
    """Brands visible to the caller."""
    stmt = scope_to_brands(select(Brand).order_by(Brand.id), Brand.id, principal)
    return [BrandOut.model_validate(b) for b in db.scalars(stmt)]


@router.post("/brands", response_model=BrandOut, status_code=201)
def create_brand(body: BrandCreate, db: DB, principal: Manage) -> BrandOut:
    """Create a brand."""
    brand = service.create_brand(
        db,
        slug=body.slug,
        name=body.name,
        default_locale=body.default_locale,
        timezone=body.timezone,
        currency=body.currency,
        ticket_prefix=body.ticket_prefix,
        tiers=[t.model_dump() for t in body.tiers] if body.tiers else None,
        actor=principal,
    )
    return BrandOut.model_validate(brand)


@router.get("/brands/{brand_id}", response_model=BrandOut)
def get_brand(brand_id: int, principal: CurrentPrincipal, db: DB) -> BrandOut:
    """One brand."""
    return BrandOut.model_validate(service.get_brand(db, brand_id, principal))


@router.patch("/brands/{brand_id}", response_model=BrandOut)
def update_brand(brand_id: int, body: BrandUpdate, db: DB, principal: Manage) -> BrandOut:
    """Change a brand."""
    brand = service.get_brand(db, brand_id, principal)
    return BrandOut.model_validate(service.update_brand(db, brand, principal, body))


@router.get("/brands/{brand_id}/inboxes", response_model=list[InboxOut])
def list_inboxes(brand_id: int, principal: CurrentPrincipal, db: DB) -> list[InboxOut]:
    """A brand's inboxes."""
    service.get_brand(db, brand_id, principal)
    rows = db.scalars(select(Inbox).where(Inbox.brand_id == brand_id).order_by(Inbox.id))
    return [_inbox_out(i) for i in rows]


@router.post("/brands/{brand_id}/inboxes", response_model=InboxOut, status_code=201)
def create_inbox(brand_id: int, body: InboxCreate, db: DB, principal: Manage) -> InboxOut:
    """Add an inbox to a brand."""
    brand = service.get_brand(db, brand_id, principal)
    inbox = service.create_inbox(
        db,
        brand,
        kind=body.kind,
        name=body.name,
        config=body.config,
        actor=principal,
        bot=body.bot_enabled,
        strict=True,
    )
    return _inbox_out(inbox)


def _inbox_out(inbox: Inbox) -> InboxOut:
    shown, secrets = service.public_settings(inbox)
    return InboxOut(
        id=inbox.id,
        brand_id=inbox.brand_id,
        kind=inbox.kind,
        name=inbox.name,
        is_active=inbox.is_active,
        bot_enabled=service.bot_enabled(inbox),
        settings=shown,
        secrets_set=secrets,
        created_at=inbox.created_at,
    )


def _inbox(db: DB, inbox_id: int, principal: Principal) -> Inbox:
    return get_in_brand(db, Inbox, inbox_id, principal, f"Inbox {inbox_id}")


@router.get("/inboxes/{inbox_id}", response_model=InboxOut)
def get_inbox(inbox_id: int, principal: CurrentPrincipal, db: DB) -> InboxOut:
    """One inbox (settings without secrets)."""
    return _inbox_out(_inbox(db, inbox_id, principal))


@router.patch("/inboxes/{inbox_id}", response_model=InboxOut)
def update_inbox(inbox_id: int, body: InboxUpdate, db: DB, principal: Manage) -> InboxOut:
    """Rename, (de)activate, switch the bot on/off (new conversations) or change settings; secrets are write-only."""
    inbox = _inbox(db, inbox_id, principal)
    service.update_inbox(
        db,
        inbox,
        principal,
        name=body.name,
        is_active=body.is_active,
        config=body.settings,
        bot=body.bot_enabled,
    )
    return _inbox_out(inbox)
